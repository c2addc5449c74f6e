/**
 * The `.env` file the configuration's `!env` values are read from, besides the process environment:
 * `.env` in the configuration file's directory, or the file `--env-file PATH` names. It keeps secrets
 * out of the YAML where no service manager provides an environment (systemd's `EnvironmentFile=`).
 *
 * Variables already set in the process environment win over the file. Only this one file is read:
 * not `~/.config/airut/.env` nor `./.env` (as Airut does), because our configuration does not live
 * in the home directory and the working directory is the checkout; one file beside the
 * configuration is the one place to look. The process environment is not changed: the merged
 * environment is returned, so reading the file again (a reload) drops variables removed from it.
 *
 * Values are never logged or put in an error message; names and the path are.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { pathOption } from './path-option.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';

export const ENV_FILE_NAME = '.env';

export interface ConfigEnvironment {
  /** The process environment with the file's variables added where the process has none. */
  readonly env: NodeJS.ProcessEnv;
  /** The file that was read, or null when there is none (the default file may be absent). */
  readonly file: string | null;
  /** Names of the variables taken from the file (not the ones the process environment overrode). */
  readonly names: readonly string[];
  /** Problems that do not stop a start, such as a file other users can read. */
  readonly warnings: readonly string[];
}

function envFileError(message: string): ConfigError {
  return new ConfigError([{ path: '', message }]);
}

/** `--env-file PATH` or `--env-file=PATH` from the arguments after the script name; undefined when absent. */
export function envFileFromArgs(argv: readonly string[]): string | undefined {
  return pathOption(argv, 'env-file', '/etc/airut/.env');
}

/** Reads the file, or returns null for a default file that does not exist. */
function readEnvFile(file: string, explicit: boolean): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return null;
    const given = explicit ? ' given with --env-file' : ' beside the configuration file';
    const why =
      code === 'ENOENT'
        ? 'does not exist; create it (KEY=value lines, mode 0600) or leave --env-file out'
        : code === 'EACCES'
          ? `cannot be read (permission denied); make it readable by the user the daemon runs as (chmod 0600, chown that user)`
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : `cannot be read (${code ?? (err as Error).message})`;
    throw envFileError(`the environment file ${file}${given} ${why}`);
  }
}

/**
 * The environment `!env` values resolve from, for the configuration at `configPath`. Throws a
 * ConfigError for a `--env-file` that does not exist and for any file that exists but cannot be read.
 */
export function loadConfigEnvironment(
  argv: readonly string[],
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): ConfigEnvironment {
  const given = envFileFromArgs(argv);
  const file = given !== undefined ? path.resolve(cwd, given) : path.join(path.dirname(path.resolve(cwd, configPath)), ENV_FILE_NAME);
  const text = readEnvFile(file, given !== undefined);
  if (text === null) return { env, file: null, names: [], warnings: [] };

  const parsed = parseEnv(text);
  const merged: NodeJS.ProcessEnv = { ...env };
  const names: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (value === undefined || env[name] !== undefined) continue;
    merged[name] = value;
    names.push(name);
  }
  const warnings: string[] = [];
  const mode = statSync(file).mode;
  if ((mode & 0o077) !== 0) {
    warnings.push(
      `the environment file ${file} holds secrets but users other than its owner can read or write it ` +
        `(mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 ${file}`,
    );
  }
  return { env: merged, file, names, warnings };
}

/** "2 variables (A, B)" — names only, never values. */
export function describeNames(names: readonly string[]): string {
  if (names.length === 0) return 'no variables used (the process environment sets them all, or the file is empty)';
  return `${names.length} variable${names.length === 1 ? '' : 's'} (${names.join(', ')})`;
}

/** The daemon's log lines about the file: where the values came from (names only), and its mode. */
export function logEnvFile(log: Pick<Logger, 'info' | 'warn'>, e: ConfigEnvironment): void {
  if (!e.file) return;
  log.info({ path: e.file, variables: e.names }, 'read the environment file for !env values');
  for (const w of e.warnings) log.warn({ path: e.file }, w);
}
