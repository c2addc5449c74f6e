/**
 * Typed errors. Every error the daemon raises on purpose carries a stable `code`
 * (for branching and for metrics) and a message a person can act on.
 *
 * There is no retry advice on these errors. An earlier `retry: 'never' | 'later'` field was set
 * at a dozen throw sites and carried across threads, but nothing ever decided on it: the runner
 * answers every failed task with an error reply, the outbox sender classifies SMTP errors itself,
 * and a runner thread's error reaches the dispatcher through Piscina without its fields. When a
 * caller comes to branch on "try again later" (the task retries of a later issue), the rule belongs
 * to that caller, keyed by the code.
 */
export class AirutError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
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
    super(code, message);
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
