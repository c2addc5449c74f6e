/**
 * Which configuration file to read: `--config PATH` (or `--config=PATH`), else the environment
 * variable AIRUT_CONFIG, else `config/airut.yaml` in the working directory. The command line
 * wins so that a one-off `--check` of another file works in a shell that exports AIRUT_CONFIG.
 */
import path from 'node:path';
import { DEFAULT_CONFIG_PATH } from './defaults.ts';
import { expandPath } from './fs-path.ts';
import { pathOption } from './path-option.ts';

/** `argv` is the argument list after the script name (`process.argv.slice(2)`). Returns an absolute path. */
export function resolveConfigPath(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromArgs = pathOption(argv, 'config', '/etc/airut/airut.yaml');
  // An empty AIRUT_CONFIG is treated as unset: `AIRUT_CONFIG= npm start` should mean "the default".
  const chosen = fromArgs ?? (env.AIRUT_CONFIG ? env.AIRUT_CONFIG : undefined) ?? DEFAULT_CONFIG_PATH;
  return expandPath(chosen, path.resolve(cwd));
}
