import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKOFF, backoffDelay } from '../../src/threads/backoff.ts';

const policy = { initialMs: 1_000, maxMs: 60_000, stableAfterMs: 180_000 };

test('each attempt waits 50–100 % of a cap that doubles from initialMs up to maxMs', () => {
  const caps = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000];
  caps.forEach((cap, attempt) => {
    assert.equal(backoffDelay(policy, attempt, () => 0), cap / 2, `attempt ${attempt}, least jitter`);
    assert.equal(backoffDelay(policy, attempt, () => 1), cap, `attempt ${attempt}, most jitter`);
  });
});

test('a very high attempt count stays at the cap (no overflow to Infinity or NaN)', () => {
  assert.equal(backoffDelay(DEFAULT_BACKOFF, 10_000, () => 1), DEFAULT_BACKOFF.maxMs);
  assert.equal(backoffDelay(DEFAULT_BACKOFF, Number.MAX_SAFE_INTEGER, () => 0), DEFAULT_BACKOFF.maxMs / 2);
});
