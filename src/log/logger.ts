/**
 * Structured JSON logs, one line per event.
 *
 * Two layers keep secrets out of the log:
 *  1. key-based redaction: any field named like a credential is replaced, wherever it is nested;
 *  2. value-based redaction: every secret value the configuration holds is registered with
 *     `registerSecretValues`, and any occurrence of it in the final line — inside an error message,
 *     a URL, an IMAP response — is replaced before the line is written.
 * Each thread has its own logger, so each thread registers the secrets it knows.
 */
import pino, { type Logger } from 'pino';
import { REDACTED, REDACTED_KEYS, redactSecretValues } from './secret-values.ts';

export { forgetSecretValues, redactSecretValues, registerSecretValues } from './secret-values.ts';

export type { Logger };

const redactPaths = [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`), ...REDACTED_KEYS.map((k) => `*.*.${k}`)];

function createRoot(): Logger {
  const level = process.env.AIRUT_LOG_LEVEL ?? 'info';
  return pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: REDACTED },
      hooks: { streamWrite: (line: string) => redactSecretValues(line) },
    },
    // Synchronous writes to fd 1 work the same on the main thread and in worker threads and
    // never lose the last lines when the process exits. Logs go to stdout, as process managers expect.
    pino.destination({ fd: 1, sync: true }),
  );
}

let root: Logger | null = null;

/** The logger of this thread. Bind `repo` and `task` with `.child({ repo, task })`. */
export function logger(): Logger {
  root ??= createRoot();
  return root;
}

export function repoLogger(repo: string, extra: Record<string, unknown> = {}): Logger {
  return logger().child({ repo, ...extra });
}
