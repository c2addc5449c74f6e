/**
 * `.airut/airut.yaml`: the settings a repository carries for itself, read from the mirror's default
 * branch at the start of every task (so a change takes effect once merged, without a restart).
 * The format is Airut's, so a repository set up for Airut works unchanged:
 *
 *   default_model: opus
 *   timeout: 6000
 *   max_budget_usd: 2.5               # lowers the server's budget.task_usd, never raises it
 *   network:
 *     sandbox_enabled: true
 *   container_env:
 *     BUCKET: my-bucket                 # inline value
 *     GH_TOKEN: !secret GH_TOKEN        # from this repository's secrets pool; error if absent
 *     API_KEY: !secret? ANTHROPIC_KEY   # optional: left out if absent
 *
 * `!secret` looks only into the pool of the repository the file belongs to (the caller passes that
 * pool and nothing else); `!env` is refused — a repository must not read the server's environment.
 * Like Airut, the file is parsed as YAML 1.1 (PyYAML), an empty value means "not set", and
 * container_env entries whose value is empty are left out.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type ScalarTag } from 'yaml';
import { AirutError, type ConfigProblem } from '../errors.ts';
import { envValueProblem } from '../sandbox/env-file.ts';

export const REPO_CONFIG_PATH = '.airut/airut.yaml';

export interface RepoConfig {
  readonly defaultModel: string;
  readonly timeoutSeconds: number;
  /** Whether the file set `timeout` (false: timeoutSeconds is the default), for the server's ceiling (task-timeout.ts). */
  readonly timeoutSetInFile: boolean;
  readonly sandboxEnabled: boolean;
  /** Resolved values, ready for the container. Every value may be a secret: never log them. */
  readonly containerEnv: Readonly<Record<string, string>>;
  /** Names in containerEnv whose values came from `!secret` / `!secret?`. */
  readonly secretEnvNames: readonly string[];
  /** `max_budget_usd`: a task budget that may lower the server's (see effectiveTaskBudget); null when not set. */
  readonly maxBudgetUsd: number | null;
}

export const REPO_CONFIG_DEFAULTS = Object.freeze({
  defaultModel: 'sonnet',
  // Airut's default. Repositories that need longer (most real work does) set `timeout:`.
  timeoutSeconds: 300,
  sandboxEnabled: true,
});

/** The file is invalid. Holds every problem found, each as `<path>: <what is wrong>`. */
export class RepoConfigError extends AirutError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    super('REPO_CONFIG_INVALID', `${REPO_CONFIG_PATH} in the repository is invalid:\n  ${lines.join('\n  ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

class SecretRef {
  constructor(
    readonly name: string,
    readonly optional: boolean,
  ) {}
}
class EnvRef {
  constructor(readonly name: string) {}
}

const secretTag: ScalarTag = {
  tag: '!secret',
  identify: (v) => v instanceof SecretRef && !v.optional,
  resolve: (s) => new SecretRef(s.trim(), false),
};
const optionalSecretTag: ScalarTag = {
  tag: '!secret?',
  identify: (v) => v instanceof SecretRef && v.optional,
  resolve: (s) => new SecretRef(s.trim(), true),
};
// Recognised only to be refused with a precise message.
const envTag: ScalarTag = {
  tag: '!env',
  identify: (v) => v instanceof EnvRef,
  resolve: (s) => new EnvRef(s.trim()),
};

const MAX_FILE_BYTES = 256 * 1024;

const schema = JSON.parse(readFileSync(new URL('../../schemas/repo-config.schema.json', import.meta.url), 'utf8')) as {
  properties: Record<string, unknown>;
};
const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true });
ajv.addVocabulary(['x-problem']);
const validate = ajv.compile(schema);

function displayPath(segments: readonly string[]): string {
  return segments.join('.');
}

function fromPointer(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function ajvProblems(errors: readonly ErrorObject[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  const add = (path: string, message: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    out.push({ path, message });
  };
  for (const e of errors) {
    const at = fromPointer(e.instancePath);
    const hint = (e.parentSchema as Record<string, unknown> | undefined)?.['x-problem'];
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}) as object);
      add(displayPath([...at, key]), `unknown key (allowed here: ${allowed.join(', ')})`);
    } else if (e.keyword === 'propertyNames') {
      continue; // the specific error for the name itself carries the message
    } else if (e.propertyName !== undefined) {
      add(displayPath([...at, e.propertyName]), typeof hint === 'string' ? hint : `name ${e.message ?? 'is invalid'}`);
    } else {
      add(displayPath(at) || '(top level)', typeof hint === 'string' ? hint : (e.message ?? 'is invalid'));
    }
  }
  return out;
}

type Plain = null | boolean | number | string | SecretRef | EnvRef | Plain[] | { [k: string]: Plain };

function isObject(v: unknown): v is Record<string, Plain> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof SecretRef) && !(v instanceof EnvRef);
}

/** `!secret`/`!env` outside container_env values; they are meaningless (or dangerous) elsewhere. */
function misplacedTags(v: Plain, at: string[], out: ConfigProblem[]): void {
  const inEnvValue = at.length === 2 && at[0] === 'container_env';
  if (v instanceof EnvRef) {
    out.push({
      path: displayPath(at) || '(top level)',
      message: `!env is not allowed in ${REPO_CONFIG_PATH}: a repository cannot read the server's environment. Ask the operator to add the value to this repository's secrets and use !secret NAME`,
    });
  } else if (v instanceof SecretRef) {
    if (!inEnvValue) {
      out.push({ path: displayPath(at) || '(top level)', message: `!secret can only be used for values under container_env` });
    }
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => misplacedTags(x, [...at, String(i)], out));
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) misplacedTags(x, [...at, k], out);
  }
}

/** A copy fit for the JSON schema: nulls dropped where Airut treats them as "not set", tags as text. */
function forSchema(v: Plain, depth = 0): unknown {
  if (v instanceof SecretRef) return `!secret ${v.name}`;
  if (v instanceof EnvRef) return `!env ${v.name}`;
  if (Array.isArray(v)) return v.map((x) => forSchema(x, depth + 1));
  if (isObject(v)) {
    const entries = Object.entries(v)
      .filter(([, x]) => !(depth <= 1 && x === null))
      .map(([k, x]) => [k, forSchema(x, depth + 1)] as const);
    return Object.fromEntries(entries);
  }
  return v;
}

function parseYaml(text: string): { value: Plain; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    version: '1.1',
    customTags: [secretTag, optionalSecretTag, envTag],
    uniqueKeys: true,
    prettyErrors: false,
  });
  const where = (e: { pos: [number, number] }) => {
    const lp = lines.linePos(e.pos[0]);
    return `line ${lp.line}, column ${lp.col}`;
  };
  for (const e of doc.errors) problems.push({ path: where(e), message: e.message.split('\n')[0] ?? e.message });
  for (const w of doc.warnings) {
    const tag = /Unresolved tag: (\S+)/.exec(w.message)?.[1];
    if (tag === '!secret' || tag === '!secret?' || tag === '!env') {
      problems.push({ path: where(w), message: `${tag} must be followed by a name on the same line, not a mapping or list` });
    } else if (tag) {
      problems.push({ path: where(w), message: `unknown YAML tag ${tag} (only !secret NAME and !secret? NAME are supported)` });
    } else {
      problems.push({ path: where(w), message: w.message.split('\n')[0] ?? w.message });
    }
  }
  if (problems.length) return { value: null, problems };
  // Keys must be plain names; a mapping or list used as a key can't be a setting.
  const contents = doc.contents;
  if (isMap(contents)) {
    for (const item of contents.items) {
      if (!isScalar(item.key)) problems.push({ path: '(top level)', message: 'keys must be plain names' });
    }
  } else if (isSeq(contents)) {
    return { value: null, problems: [{ path: '(top level)', message: 'must be a mapping of settings, not a list' }] };
  }
  if (problems.length) return { value: null, problems };
  return { value: doc.toJS({ maxAliasCount: 50 }) as Plain, problems };
}

/**
 * Validates `.airut/airut.yaml` and resolves its `!secret` references against `secrets` — the
 * secrets pool of the repository the file came from, and only that. `yamlText` null (no file in the
 * repository) gives the defaults. Throws RepoConfigError (code REPO_CONFIG_INVALID) naming every
 * problem; secret values never appear in messages.
 */
export function loadRepoConfig(yamlText: string | null, secrets: Readonly<Record<string, string>>): RepoConfig {
  let raw: Plain = null;
  if (yamlText !== null) {
    if (Buffer.byteLength(yamlText, 'utf8') > MAX_FILE_BYTES) {
      throw new RepoConfigError([{ path: '', message: `file is larger than ${MAX_FILE_BYTES / 1024} KiB` }]);
    }
    const parsed = parseYaml(yamlText.replace(/^\uFEFF/, ''));
    if (parsed.problems.length) throw new RepoConfigError(parsed.problems);
    raw = parsed.value;
  }
  if (raw === null) raw = {};
  if (!isObject(raw)) {
    throw new RepoConfigError([{ path: '(top level)', message: 'must be a mapping of settings (key: value)' }]);
  }

  const problems: ConfigProblem[] = [];
  misplacedTags(raw, [], problems);
  const plain = forSchema(raw) as Record<string, unknown>;
  if (!validate(plain)) problems.push(...ajvProblems(validate.errors ?? []));

  // Secrets are resolved even when other fields are wrong, so one run names every problem.
  const env: Array<[string, string]> = [];
  const secretNames: string[] = [];
  const rawEnv = raw.container_env;
  if (isObject(rawEnv)) {
    for (const [name, value] of Object.entries(rawEnv)) {
      const at = `container_env.${name}`;
      if (value instanceof SecretRef) {
        const tag = value.optional ? '!secret?' : '!secret';
        if (!value.name) {
          problems.push({ path: at, message: `${tag} needs the name of a secret, e.g. ${tag} ${name}` });
          continue;
        }
        // Own properties only: "constructor" or "__proto__" must not resolve to anything.
        if (!Object.prototype.hasOwnProperty.call(secrets, value.name)) {
          if (value.optional) continue;
          problems.push({
            path: at,
            message: `secret ${value.name} (from !secret ${value.name}) is not defined for this repository; the operator adds it under repos.<repo>.secrets in the server configuration, or use !secret? to make it optional`,
          });
          continue;
        }
        const v = secrets[value.name];
        const problem = typeof v === 'string' ? envValueProblem(v) : null;
        if (problem) {
          problems.push({ path: at, message: `secret ${value.name} cannot be passed to the container: ${problem}` });
        } else if (typeof v === 'string' && v !== '') {
          env.push([name, v]);
          secretNames.push(name);
        }
      } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        const v = String(value);
        const problem = envValueProblem(v);
        if (problem) problems.push({ path: at, message: `cannot be passed to the container: ${problem}` });
        else if (v !== '') env.push([name, v]);
      }
      // null: not set (as in Airut); other types were reported by the schema
    }
  }
  if (problems.length) throw new RepoConfigError(problems);

  const network = plain.network as { sandbox_enabled?: boolean } | undefined;
  return Object.freeze({
    defaultModel: (plain.default_model as string | undefined) ?? REPO_CONFIG_DEFAULTS.defaultModel,
    timeoutSeconds: (plain.timeout as number | undefined) ?? REPO_CONFIG_DEFAULTS.timeoutSeconds,
    timeoutSetInFile: typeof plain.timeout === 'number',
    sandboxEnabled: network?.sandbox_enabled ?? REPO_CONFIG_DEFAULTS.sandboxEnabled,
    // fromEntries defines own properties, so a variable named __proto__ stays a variable.
    containerEnv: Object.freeze(Object.fromEntries(env)),
    secretEnvNames: Object.freeze(secretNames),
    maxBudgetUsd: (plain.max_budget_usd as number | undefined) ?? null,
  });
}

/** Anything that reads a file from the default branch (GitMirror does). */
export interface RepoFileSource {
  readFile(path: string): Promise<Buffer | null>;
}

/** Reads `.airut/airut.yaml` from the mirror's default branch and loads it (see loadRepoConfig). */
export async function loadRepoConfigFromMirror(
  mirror: RepoFileSource,
  secrets: Readonly<Record<string, string>>,
): Promise<RepoConfig> {
  const bytes = await mirror.readFile(REPO_CONFIG_PATH);
  if (bytes === null) return loadRepoConfig(null, secrets);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RepoConfigError([{ path: '', message: 'file is not valid UTF-8 text' }]);
  }
  return loadRepoConfig(text, secrets);
}
