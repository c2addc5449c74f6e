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
import { parseYamlWithEnv } from './yaml-env.ts';

/** Orders problems by path, so that the problems of one repository read as one block. Stable. */
function byPath(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.path < b.p.path ? -1 : a.p.path > b.p.path ? 1 : a.i - b.i))
    .map(({ p }) => p);
}

export function parseServerConfig(text: string, sourcePath: string, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const source = path.resolve(sourcePath);
  const parsed = parseYamlWithEnv(text, env);
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
