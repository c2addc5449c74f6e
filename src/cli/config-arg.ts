/** `--config PATH` for the subcommands that read the server configuration. */
import { loadServerConfig } from '../config/load.ts';
import { resolveConfigPath } from '../config/path.ts';
import type { ServerConfig } from '../config/types.ts';
import type { ParsedArgs } from './args.ts';
import type { CliIo } from './command.ts';

export const CONFIG_OPTION = { config: { type: 'string' } } as const;
export const CONFIG_HELP = '  --config PATH   configuration file (default: $AIRUT_CONFIG, else config/airut.yaml)\n';

/** The argument list the configuration loaders and `npm start` read (`--config PATH` or nothing). */
export function configArgv(values: ParsedArgs['values']): string[] {
  return typeof values.config === 'string' ? ['--config', values.config] : [];
}

export function configPathOf(values: ParsedArgs['values'], io: CliIo): string {
  return resolveConfigPath(configArgv(values), io.env, io.cwd);
}

/** Throws ConfigError (with every problem) when the file is missing or invalid. */
export function loadConfigOf(values: ParsedArgs['values'], io: CliIo): ServerConfig {
  return loadServerConfig(configPathOf(values, io), io.env);
}
