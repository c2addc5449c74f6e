/**
 * `npm start -- --check [--config PATH]`: load the configuration, print a summary and exit 0, or
 * print every problem and exit 1. `!env` values also come from the `.env` file beside the
 * configuration (or `--env-file PATH`): src/config/env-file.ts. Lets an operator validate an edit before restarting the daemon.
 */
import { ConfigError } from '../errors.ts';
import { describeNames, loadConfigEnvironment } from './env-file.ts';
import { loadServerConfig } from './load.ts';
import { resolveConfigPath } from './path.ts';
import { formatConfigSummary } from './summary.ts';

export interface TextSink {
  write(text: string): unknown;
}

export interface CheckOutput {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
}

/** Returns the process exit code. Errors other than configuration problems are bugs and are rethrown. */
export function runConfigCheck(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: CheckOutput = { stdout: process.stdout, stderr: process.stderr },
): number {
  try {
    const configPath = resolveConfigPath(argv, env);
    const fromFile = loadConfigEnvironment(argv, configPath, env);
    for (const w of fromFile.warnings) out.stderr.write(`warning: ${w}\n`);
    const cfg = loadServerConfig(configPath, fromFile.env);
    out.stdout.write(`configuration OK\n${formatConfigSummary(cfg)}`);
    if (fromFile.file) out.stdout.write(`environment file ${fromFile.file}: ${describeNames(fromFile.names)}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.stderr.write(`${err.message}\n`);
    return 1;
  }
}
