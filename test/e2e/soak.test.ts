/**
 * A short soak (the full one is `npm run soak`): 30 new conversations over 3 repos, max_concurrent 3,
 * the real daemon and the fast scripted agent. Every message becomes exactly one task and gets
 * exactly one acknowledgement and one final reply; nothing stays unsent; no container is left.
 * Memory and timing are the script's business, not this test's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak, soakViolations } from '../harness/soak-run.ts';

test('soak: 30 messages over 3 repos at max_concurrent 3 → 30 tasks, 30 replies, no duplicates, no losses', async () => {
  const r = await runSoak({ messages: 30, repos: 3, maxConcurrent: 3, timeoutMs: 5 * 60_000, rssAfterTasks: 10 });
  assert.deepEqual(soakViolations(r), []);
  assert.equal(r.tasks, 30);
  assert.equal(r.finalReplies, 30);
  assert.equal(r.acks, 30);
  assert.deepEqual(r.statuses, { completed: 30 });
});
