/**
 * `npm start -- --check --online [--timeout SECONDS]`: everything `--check` does, then the things
 * only a live machine can answer — can each repository log in to IMAP and SMTP and reach its git
 * remote, does podman work the way tasks need it, does the Claude Code binary run, is the
 * database usable. Prints one table and exits 1 when any row is FAIL.
 *
 * Nothing is changed anywhere: INBOX is opened read-only, no mail is sent, the database is neither
 * created nor migrated, no directory is created.
 */
import { nodeRuntimeCheck } from './node-runtime.ts';
import { ConfigError } from '../errors.ts';
import { describeNames, loadConfigEnvironment, type ConfigEnvironment } from '../config/env-file.ts';
import { loadServerConfig } from '../config/load.ts';
import { resolveConfigPath } from '../config/path.ts';
import { secretValuesOf } from '../config/secret-values.ts';
import { formatConfigSummary } from '../config/summary.ts';
import type { ServerConfig } from '../config/types.ts';
import { redactSecretValues, registerSecretValues } from '../log/logger.ts';
import { claudeBinaryCheck } from './claude-binary.ts';
import { containerRuntimeCheck } from './container-runtime.ts';
import { databaseCheck } from './database.ts';
import { gitRemoteCheck } from './git-remote.ts';
import { imapCheck } from './imap.ts';
import { runChecks } from './run-checks.ts';
import { smtpCheck } from './smtp.ts';
import { storageCheck } from './storage.ts';
import { formatReport } from './table.ts';
import { ok, warn, type CheckResult, type DoctorCheck } from './types.ts';

export const DEFAULT_CHECK_TIMEOUT_SECONDS = 15;
const MAX_CHECK_TIMEOUT_SECONDS = 600;

export interface TextSink {
  write(text: string): unknown;
}

export interface DoctorOutput {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
}

/** `--timeout N` / `--timeout=N` in seconds; null when absent. Throws a ConfigError when invalid. */
export function parseTimeoutSeconds(argv: readonly string[]): number | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let value: string | undefined;
    if (arg === '--timeout') value = argv[i + 1];
    else if (arg.startsWith('--timeout=')) value = arg.slice('--timeout='.length);
    else continue;
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n) || n <= 0 || n > MAX_CHECK_TIMEOUT_SECONDS) {
      throw new ConfigError([{ path: '', message: `--timeout needs a positive number of seconds, at most ${MAX_CHECK_TIMEOUT_SECONDS}, as in --timeout 30` }]);
    }
    return n;
  }
  return null;
}

/** The checks for a loaded configuration, in the order the table lists them. */
export function doctorChecks(cfg: ServerConfig): DoctorCheck[] {
  const g = cfg.global;
  return [
    nodeRuntimeCheck(),
    containerRuntimeCheck(g.containerCommand),
    claudeBinaryCheck(g.claude.binaryPath),
    databaseCheck(g.databasePath),
    ...Object.values(cfg.repos).flatMap((repo) => [imapCheck(repo), smtpCheck(repo), gitRemoteCheck(repo), storageCheck(repo)]),
  ];
}

/** The `.env` file's row: which variables it gave, or that others can read it. None without a file. */
function envFileRows(e: ConfigEnvironment): CheckResult[] {
  if (!e.file) return [];
  if (e.warnings.length > 0) return [warn('env file', e.warnings.join('; '), `chmod 600 ${e.file}`)];
  return [ok('env file', `${e.file}: ${describeNames(e.names)}`)];
}

/** Returns the process exit code: 0 when no check failed (warnings allowed), else 1. */
export async function runDoctor(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: DoctorOutput = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let cfg: ServerConfig;
  let timeoutSeconds: number;
  let fromFile: ConfigEnvironment;
  try {
    timeoutSeconds = parseTimeoutSeconds(argv) ?? DEFAULT_CHECK_TIMEOUT_SECONDS;
    const configPath = resolveConfigPath(argv, env);
    fromFile = loadConfigEnvironment(argv, configPath, env);
    cfg = loadServerConfig(configPath, fromFile.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.stderr.write(`${err.message}\n`);
    return 1;
  }
  registerSecretValues(secretValuesOf(cfg));
  out.stdout.write(redactSecretValues(`configuration OK\n${formatConfigSummary(cfg)}\n`));

  const repos = Object.keys(cfg.repos).length;
  const rows = [
    ok('config', `${cfg.sourcePath}: ${repos} repositor${repos === 1 ? 'y' : 'ies'}`),
    ...envFileRows(fromFile),
    ...(await runChecks(doctorChecks(cfg), { timeoutMs: timeoutSeconds * 1000 })),
  ];
  // Server answers and git messages are echoed in the table; none of them may carry a secret.
  out.stdout.write(redactSecretValues(formatReport(rows)));
  return rows.some((r) => r.status === 'FAIL') ? 1 : 0;
}
