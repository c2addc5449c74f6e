/**
 * Reconnect delays: exponential, capped, with "equal jitter" (50–100 % of the step). The attempt counter resets only after a
 * connection stayed up for `stableAfterMs` (not on a successful login): a server that accepts and
 * then drops at once must not be hammered.
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly stableAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 5 * 60_000, stableAfterMs: 3 * 60_000 };

/** Delay before reconnect attempt number `attempt` (0-based), jittered to 50–100 % of the cap. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + (random() * cap) / 2);
}
