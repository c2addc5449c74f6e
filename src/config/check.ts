/**
 * `npm start -- --check [--config PATH]`: load the configuration, print a summary and exit 0, or
 * print every problem and exit 1. Lets an operator validate an edit before restarting the daemon.
 */
import { ConfigError } from '../errors.ts';
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
    const cfg = loadServerConfig(resolveConfigPath(argv, env), env);
    out.stdout.write(`configuration OK\n${formatConfigSummary(cfg)}`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.stderr.write(`${err.message}\n`);
    return 1;
  }
}
