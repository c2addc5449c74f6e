/**
 * Typed errors. Every error the daemon raises on purpose carries a stable `code`
 * (for branching and for metrics) and a message a person can act on.
 *
 * `retry` tells callers what to do with the failure, so that the dispatcher and
 * the listeners branch on a field instead of matching message text:
 *   - "never":  the input or the configuration is wrong; retrying changes nothing
 *   - "later":  a dependency is down or busy; the same call may succeed later
 */
export type RetryAdvice = 'never' | 'later';

export class AirutError extends Error {
  readonly code: string;
  readonly retry: RetryAdvice;

  constructor(code: string, message: string, options: { retry?: RetryAdvice; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retry = options.retry ?? 'never';
  }
}

/** One problem in a configuration file, located by its dotted path (`repos.api.email.imap_port`). */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** The configuration is invalid. Holds every problem found, not just the first. */
export class ConfigError extends AirutError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], source?: string) {
    const lines = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    const head = source ? `invalid configuration in ${source}` : 'invalid configuration';
    super('CONFIG_INVALID', `${head}:\n  ${lines.join('\n  ')}`);
    this.problems = Object.freeze([...problems]);
  }
}

/** A call across threads could not complete: the other side exited, or did not answer in time. */
export class ThreadCallError extends AirutError {
  constructor(code: 'THREAD_GONE' | 'THREAD_TIMEOUT', message: string) {
    super(code, message, { retry: 'later' });
  }
}

/** Rebuilds an error that crossed a thread boundary as a plain object, keeping its code. */
export function describeError(err: unknown): { name: string; code: string; message: string } {
  if (err instanceof AirutError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) {
    const raw = (err as unknown as { code?: unknown }).code;
    const code = typeof raw === 'string' ? raw : 'INTERNAL';
    return { name: err.name, code, message: err.message };
  }
  return { name: 'Error', code: 'INTERNAL', message: String(err) };
}
