/** The first use of a thread's spawn helper: callers that arrive together wait for one helper (its own file: a fresh process). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { helperFor } from '../../src/os/spawn-helper.ts';

// The helper is opt-in (spawn-helper.ts); these tests are about it.
process.env.AIRUT_SPAWN_HELPER = '1';

test('callers arriving together before any helper exists share one', async () => {
  const pids = await Promise.all(Array.from({ length: 10 }, async () => (await helperFor())!.pid));
  assert.equal(new Set(pids).size, 1);
  assert.ok(pids[0]! > 0);
});
