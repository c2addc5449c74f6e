/**
 * The configuration pipeline: read the file → YAML with `!env` → JSON schema → semantic rules →
 * frozen ServerConfig. All problems from every stage are collected and thrown together as one
 * ConfigError, so a person fixes the file in one pass instead of one error per restart.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { buildServerConfig } from './build.ts';
import { DEFAULT_CONFIG_PATH, EXAMPLE_CONFIG_PATH } from './defaults.ts';
import type { RawServerConfig } from './raw.ts';
import { checkRules } from './rules.ts';
import { validateAgainstSchema } from './schema-validate.ts';
import type { ServerConfig } from './types.ts';
import { isRecord } from './object-path.ts';
import { repoIdOfPath } from './repo-path.ts';
import { parseYamlWithEnv, type ParsedYaml } from './yaml-env.ts';

/** Orders problems by path, so that the problems of one repository read as one block. Stable. */
function byPath(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.path < b.p.path ? -1 : a.p.path > b.p.path ? 1 : a.i - b.i))
    .map(({ p }) => p);
}

/**
 * `options.leaveOut`: repositories read as if they were not in the file, with their problems
 * (resilient start, src/config/partial-load.ts).
 */
export function parseServerConfig(
  text: string,
  sourcePath: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { readonly leaveOut?: ReadonlySet<string> } = {},
): ServerConfig {
  const source = path.resolve(sourcePath);
  const parsed = leaveOutRepos(parseYamlWithEnv(text, env), options.leaveOut);
  if (parsed.data === undefined && parsed.problems.length > 0) throw new ConfigError(parsed.problems, source);
  if (parsed.data === undefined || parsed.data === null) {
    throw new ConfigError([{ path: '', message: `the file is empty; start from ${EXAMPLE_CONFIG_PATH}` }], source);
  }

  const later = [...validateAgainstSchema(parsed.data, parsed.envPaths), ...checkRules(parsed.data, path.dirname(source))];
  // A field whose !env variable is missing already has its problem ("… is not set"); the empty
  // stand-in value would otherwise also be reported as "must not be empty" or worse.
  const problems = [...parsed.problems, ...later.filter((p) => !parsed.unresolvedEnvPaths.has(p.path))];
  if (problems.length > 0) throw new ConfigError(byPath(problems), source);

  return buildServerConfig(parsed.data as RawServerConfig, source);
}

function leaveOutRepos(parsed: ParsedYaml, ids: ReadonlySet<string> | undefined): ParsedYaml {
  if (!ids?.size || !isRecord(parsed.data) || !isRecord(parsed.data.repos)) return parsed;
  const repos = Object.fromEntries(Object.entries(parsed.data.repos).filter(([id]) => !ids.has(id)));
  const kept = (p: string) => {
    const id = repoIdOfPath(p);
    return id === undefined || !ids.has(id);
  };
  return {
    data: { ...parsed.data, repos },
    problems: parsed.problems.filter((p) => kept(p.path)),
    envPaths: new Set([...parsed.envPaths].filter(kept)),
    unresolvedEnvPaths: new Set([...parsed.unresolvedEnvPaths].filter(kept)),
  };
}

export function loadServerConfig(configPath: string, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const source = path.resolve(configPath);
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'cannot be read (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : `cannot be read (${code ?? (err as Error).message})`;
    throw new ConfigError([
      {
        path: '',
        message:
          `the configuration file ${source} ${why}. To create one, copy the example and edit it: ` +
          `cp ${EXAMPLE_CONFIG_PATH} ${DEFAULT_CONFIG_PATH} (or point --config PATH or AIRUT_CONFIG at another file)`,
      },
    ]);
  }
  return parseServerConfig(text, source, env);
}
