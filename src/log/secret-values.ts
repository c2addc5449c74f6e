/**
 * The value-based half of log redaction (see logger.ts), on its own so that listener threads,
 * which log without pino (line-logger.ts), share it without loading pino.
 */

export const REDACTED = '[REDACTED]';
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

/** Fields redacted by name, at the top of a log record and two levels down. */
export const REDACTED_KEYS: readonly string[] = [
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
