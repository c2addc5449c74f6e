/**
 * When to retry a run that failed for a transient API reason (`retries:`): the n-th retry (from 0)
 * waits min(initial * 2^n, max_delay) seconds; there is no n-th retry when n >= max_retries or when
 * its wait would take all waits of the task together past max_total_wait. Pure.
 */
import type { RetryPolicy } from '../config/types.ts';

/** The wait before retry `retry` (0-based), in seconds, or null: give up (pause the task). */
export function retryDelaySeconds(policy: RetryPolicy, retry: number, waitedSeconds: number): number | null {
  if (retry >= policy.maxRetries) return null;
  const delay = Math.min(policy.initialDelaySeconds * 2 ** retry, policy.maxDelaySeconds);
  if (waitedSeconds + delay > policy.maxTotalWaitSeconds) return null;
  return delay;
}

/** Every wait the policy allows, in order (for the docs and the tests). */
export function retryDelays(policy: RetryPolicy): number[] {
  const delays: number[] = [];
  let waited = 0;
  for (let n = 0; ; n++) {
    const d = retryDelaySeconds(policy, n, waited);
    if (d === null) return delays;
    delays.push(d);
    waited += d;
  }
}
