/**
 * YAML text → plain data, with `!env NAME` replaced by the value of the environment variable NAME.
 *
 * The `!env` tag first becomes an `EnvReference` marker; a second pass swaps markers for values.
 * Doing it in two steps gives every problem the dotted path of the field that used the tag
 * ("repos.api.email.password: environment variable EMAIL_PASSWORD_API is not set"), which the
 * YAML tag callback cannot know, and lets every missing variable be reported at once.
 */
import { LineCounter, parseDocument, type ScalarTag, type YAMLError } from 'yaml';
import type { ConfigProblem } from '../errors.ts';
import { childPath, isRecord } from './object-path.ts';

class EnvReference {
  constructor(readonly name: string) {}
}

const envTag: ScalarTag = {
  tag: '!env',
  identify: (value) => value instanceof EnvReference,
  resolve: (text) => new EnvReference(text.trim()),
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ParsedYaml {
  /** The document as plain data; undefined when the text could not be parsed. */
  readonly data: unknown;
  readonly problems: ConfigProblem[];
  /** Dotted paths of fields whose value came from `!env`. */
  readonly envPaths: ReadonlySet<string>;
  /**
   * Fields whose variable was missing or misnamed. Their value is left as an empty string so the
   * rest of the file can still be checked; later stages must not report these fields again.
   */
  readonly unresolvedEnvPaths: ReadonlySet<string>;
}

function describeYamlError(err: YAMLError, lines: LineCounter): string {
  const { line, col } = lines.linePos(err.pos[0]);
  // `prettyErrors` is off on purpose: it quotes the offending source line, which may hold a password.
  let message = err.message;
  const tag = /^Unresolved tag: (.*)$/.exec(message)?.[1];
  if (tag === '!env') message = '!env must be followed by a variable name, as in `password: !env EMAIL_PASSWORD`';
  else if (tag !== undefined) message = `unknown tag ${tag} (the only tag supported here is !env)`;
  return `line ${line}, column ${col}: ${message}`;
}

/** Parses YAML syntax only. Syntax errors and unknown tags are problems located by line and column. */
function parseYamlSyntax(text: string): { data: unknown; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { customTags: [envTag], prettyErrors: false, lineCounter: lines, uniqueKeys: true });
  // Warnings include unresolved tags such as `!secret`; silently reading them as strings would
  // turn a mistake into a literal value, so they are errors here.
  const problems = [...doc.errors, ...doc.warnings].map((err) => ({ path: '', message: describeYamlError(err, lines) }));
  if (problems.length > 0) return { data: undefined, problems };
  try {
    return { data: doc.toJS({ maxAliasCount: 100 }), problems };
  } catch (err) {
    return { data: undefined, problems: [{ path: '', message: `cannot read the YAML document: ${(err as Error).message}` }] };
  }
}

export function parseYamlWithEnv(text: string, env: NodeJS.ProcessEnv): ParsedYaml {
  const { data, problems } = parseYamlSyntax(text);
  const envPaths = new Set<string>();
  const unresolvedEnvPaths = new Set<string>();
  if (problems.length > 0) return { data: undefined, problems, envPaths, unresolvedEnvPaths };

  const resolve = (node: unknown, path: string): unknown => {
    if (node instanceof EnvReference) {
      envPaths.add(path);
      if (!ENV_NAME.test(node.name)) {
        unresolvedEnvPaths.add(path);
        const why = node.name === '' ? '!env needs a variable name' : `!env ${JSON.stringify(node.name)} is not a valid variable name`;
        problems.push({ path, message: `${why}, as in \`!env EMAIL_PASSWORD\`` });
        return '';
      }
      const value = env[node.name];
      if (value === undefined) {
        unresolvedEnvPaths.add(path);
        problems.push({ path, message: `environment variable ${node.name} is not set` });
        return '';
      }
      return value;
    }
    if (Array.isArray(node)) return node.map((item, i) => resolve(item, childPath(path, i)));
    if (isRecord(node)) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        // defineProperty, not assignment: a key named `__proto__` must stay an ordinary (unknown) key.
        Object.defineProperty(out, key, { value: resolve(value, childPath(path, key)), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return node;
  };

  return { data: resolve(data, ''), problems, envPaths, unresolvedEnvPaths };
}
