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

export type { Logger };

const REDACTED = '[REDACTED]';
const secretValues = new Set<string>();
// Secrets shorter than this are not redacted by value: replacing "1" or "ab" everywhere would
// make logs unreadable and protects nothing (such a value is not a credential worth the name).
const MIN_SECRET_LENGTH = 4;
let secretPattern: RegExp | null = null;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Registers values (passwords, tokens) that must never appear in a log line of this thread. */
export function registerSecretValues(values: Iterable<string | null | undefined>): void {
  for (const v of values) {
    if (typeof v === 'string' && v.length >= MIN_SECRET_LENGTH) {
      secretValues.add(v);
      // A secret inside a JSON string is written with JSON escapes; register that form too.
      const jsonForm = JSON.stringify(v).slice(1, -1);
      if (jsonForm !== v) secretValues.add(jsonForm);
    }
  }
  rebuildSecretPattern();
}

/**
 * Stops redacting values that can no longer open anything (an OAuth2 access token long expired),
 * so a daemon that runs for months does not grow its pattern by one token an hour.
 */
export function forgetSecretValues(values: Iterable<string | null | undefined>): void {
  for (const v of values) {
    if (typeof v !== 'string') continue;
    secretValues.delete(v);
    secretValues.delete(JSON.stringify(v).slice(1, -1));
  }
  rebuildSecretPattern();
}

function rebuildSecretPattern(): void {
  const sorted = [...secretValues].sort((a, b) => b.length - a.length).map(escapeRegExp);
  secretPattern = sorted.length ? new RegExp(sorted.join('|'), 'g') : null;
}

/** Replaces every registered secret value in `text`. Also used for text shown to people. */
export function redactSecretValues(text: string): string {
  return secretPattern ? text.replace(secretPattern, REDACTED) : text;
}

const KEY_PATHS = [
  'password',
  'pass',
  'secret',
  'secrets',
  'token',
  'authToken',
  'auth_token',
  'authorization',
  'apiKey',
  'api_key',
];
const redactPaths = [...KEY_PATHS, ...KEY_PATHS.map((k) => `*.${k}`), ...KEY_PATHS.map((k) => `*.*.${k}`)];

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
