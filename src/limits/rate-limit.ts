/**
 * Rate limits: how many tasks a repository, and one sender in it, may start per hour. The counting
 * is a query (src/store/rate-limit.ts); what counts is documented in docs/configuration.md.
 */

/** The window the rates are counted over, sliding. */
export const RATE_WINDOW_MS = 60 * 60 * 1000;

/**
 * At most one rate-limit reply per sender per this long, however many mails they send while over
 * the limit: an auto-responder (or a script) that keeps writing must not get a reply to each.
 */
export const RATE_NOTICE_INTERVAL_MS = RATE_WINDOW_MS;

export type RateScope = 'sender' | 'repo';

/** A rate limit the next task would break. */
export interface RateLimitHit {
  /** Whose budget is spent: this sender's, or the whole repository's. */
  readonly scope: RateScope;
  /** The configured tasks per hour. */
  readonly limit: number;
  /** Tasks counted in the last hour. */
  readonly count: number;
  /** Milliseconds since the epoch at which a new task fits again (when enough counted tasks are an hour old). */
  readonly retryAt: number;
}

