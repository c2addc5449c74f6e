/** `--config PATH` and `--env-file PATH` for the subcommands that read the server configuration. */
import { loadConfigEnvironment } from '../config/env-file.ts';
import { loadServerConfig } from '../config/load.ts';
import { resolveConfigPath } from '../config/path.ts';
import type { ServerConfig } from '../config/types.ts';
import type { ParsedArgs } from './args.ts';
import type { CliIo } from './command.ts';

export const CONFIG_OPTION = { config: { type: 'string' }, 'env-file': { type: 'string' } } as const;
export const CONFIG_HELP =
  '  --config PATH   configuration file (default: $AIRUT_CONFIG, else config/airut.yaml)\n' +
  '  --env-file PATH KEY=value file for the configuration\'s !env values (default: .env beside the configuration)\n';

/** The argument list the configuration loaders and `npm start` read (`--config PATH`, `--env-file PATH`, or nothing). */
export function configArgv(values: ParsedArgs['values']): string[] {
  const argv = typeof values.config === 'string' ? ['--config', values.config] : [];
  if (typeof values['env-file'] === 'string') argv.push('--env-file', values['env-file']);
  return argv;
}

export function configPathOf(values: ParsedArgs['values'], io: CliIo): string {
  return resolveConfigPath(configArgv(values), io.env, io.cwd);
}

/** Throws ConfigError (with every problem) when the file is missing or invalid. */
export function loadConfigOf(values: ParsedArgs['values'], io: CliIo): ServerConfig {
  const configPath = configPathOf(values, io);
  return loadServerConfig(configPath, loadConfigEnvironment(configArgv(values), configPath, io.env, io.cwd).env);
}
