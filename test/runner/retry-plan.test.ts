import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelaySeconds, retryDelays } from '../../src/runner/retry-plan.ts';
import { DEFAULT_RETRIES } from '../../src/config/defaults.ts';
import type { RetryPolicy } from '../../src/config/types.ts';

const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({ maxRetries: 3, initialDelaySeconds: 10, maxDelaySeconds: 300, maxTotalWaitSeconds: 900, ...p });

test('the waits double from the initial delay, are capped by max_delay, and stop at max_retries or max_total_wait', () => {
  const cases: { name: string; p: Partial<RetryPolicy>; delays: number[] }[] = [
    { name: 'defaults', p: {}, delays: [10, 20, 40] },
    { name: 'no retries', p: { maxRetries: 0 }, delays: [] },
    { name: 'capped single wait', p: { maxRetries: 6, initialDelaySeconds: 50, maxDelaySeconds: 120 }, delays: [50, 100, 120, 120, 120, 120] },
    { name: 'total wait stops it', p: { maxRetries: 10, initialDelaySeconds: 10, maxTotalWaitSeconds: 75 }, delays: [10, 20, 40] },
    { name: 'total exactly reached', p: { maxRetries: 10, initialDelaySeconds: 10, maxTotalWaitSeconds: 70 }, delays: [10, 20, 40] },
    { name: 'first wait already too long', p: { initialDelaySeconds: 30, maxTotalWaitSeconds: 20 }, delays: [] },
    { name: 'zero delays (tests)', p: { maxRetries: 2, initialDelaySeconds: 0, maxDelaySeconds: 0, maxTotalWaitSeconds: 0 }, delays: [0, 0] },
  ];
  for (const c of cases) assert.deepEqual(retryDelays(policy(c.p)), c.delays, c.name);
  assert.deepEqual(retryDelays(DEFAULT_RETRIES), [10, 20, 40]);
});

test('one step: null once the retries are used up or the total would pass its limit', () => {
  const p = policy({ maxRetries: 5, initialDelaySeconds: 10, maxTotalWaitSeconds: 100 });
  assert.equal(retryDelaySeconds(p, 0, 0), 10);
  assert.equal(retryDelaySeconds(p, 2, 30), 40);
  assert.equal(retryDelaySeconds(p, 2, 61), null, '61 + 40 > 100');
  assert.equal(retryDelaySeconds(p, 5, 0), null, 'max_retries reached');
});
