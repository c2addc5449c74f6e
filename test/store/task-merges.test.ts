import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { claimNextTask, finishTask } from '../../src/store/task-queue.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { mergedInto, mergeLive, mergeOf, queuedFollowUpsOf, reopenPausedTask } from '../../src/store/task-merges.ts';

import { enqueue as enqueueFrom } from './enqueue.ts';

const enqueue = (db: Db, repoId: string, refs: string[] = []) => enqueueFrom(db, repoId, refs, (n) => `s${n}@example.com`);

test('follow-ups that queued while the conversation was busy become one run; each keeps its row, merged into it', () => {
  const db = openDatabase(':memory:', { migrate: true });
  enqueue(db, 'api');
  const first = claimNextTask(db, 1000)!;
  const conv = first.conversationId;
  const f1 = enqueue(db, 'api', [conv]);
  const other = enqueue(db, 'api');
  const f2 = enqueue(db, 'api', [conv]);
  const f3 = enqueue(db, 'api', ['0badc0de', conv]);
  assert.equal(claimNextTask(db, 2000)!.task.id, other, 'the follow-ups wait for the running task');
  finishTask(db, first.task.id, { status: 'running', attempt: 1 }, { status: 'completed' });
  const next = claimNextTask(db, 3000)!;
  assert.equal(next.task.id, f1, 'the oldest follow-up handles the others');
  assert.deepEqual(next.coalesced, [f2, f3]);
  assert.equal(next.resumedFromPause, false);
  for (const id of [f2, f3]) {
    assert.equal(getTask(db, id)?.status, 'merged');
    assert.deepEqual(mergeOf(db, id), { into: f1, kind: 'coalesced' });
  }
  assert.deepEqual(mergedInto(db, f1).map((m) => [m.id, m.kind, m.sender, m.mergedAt]), [
    [f2, 'coalesced', `s${f2}@example.com`, 3000],
    [f3, 'coalesced', `s${f3}@example.com`, 3000],
  ]);
  assert.equal(claimNextTask(db, 4000), null, 'nothing of the conversation is left queued');
});

test('mail of another repository or conversation is not coalesced; a fresh mail starts its own conversation', () => {
  const db = openDatabase(':memory:', { migrate: true });
  enqueue(db, 'api');
  const conv = claimNextTask(db)!.conversationId;
  finishTask(db, 1, { status: 'running', attempt: 1 }, { status: 'completed' });
  const f = enqueue(db, 'api', [conv]);
  const web = enqueue(db, 'web', [conv]);
  const fresh = enqueue(db, 'api');
  const claim = claimNextTask(db)!;
  assert.equal(claim.task.id, f);
  assert.deepEqual(claim.coalesced, []);
  assert.equal(getTask(db, web)?.status, 'queued');
  assert.equal(getTask(db, fresh)?.status, 'queued');
});

test('a reply to a conversation whose last run paused resumes that run, with every new mail coalesced into it', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const paused = enqueue(db, 'api');
  const conv = claimNextTask(db, 1000)!.conversationId;
  assert.equal(finishTask(db, paused, { status: 'running', attempt: 1 }, { status: 'paused', error: '529 overloaded' }).applied, true);
  const r1 = enqueue(db, 'api', [conv]);
  const r2 = enqueue(db, 'api', [conv]);
  const claim = claimNextTask(db, 5000)!;
  assert.equal(claim.task.id, paused, 'the paused task runs again');
  assert.equal(claim.task.status, 'running');
  assert.equal(claim.task.attempts, 2);
  assert.equal(claim.resumedFromPause, true);
  assert.equal(claim.isResume, false, 'not a restart');
  assert.deepEqual(claim.coalesced, [r1, r2]);
  assert.deepEqual(mergedInto(db, paused, { since: claim.task.startedAt! }).map((m) => m.id), [r1, r2]);
});

test('only the latest run of a conversation is resumed: an older paused task stays paused', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const old = enqueue(db, 'api');
  const conv = claimNextTask(db)!.conversationId;
  finishTask(db, old, { status: 'running', attempt: 1 }, { status: 'paused' });
  assert.equal(reopenPausedTask(db, 'web', conv, 1), null, 'another repository has no such conversation');
  // A later run of the conversation (set up directly: the dashboard could have run one) completed after the pause.
  const later = enqueue(db, 'api', [conv]);
  db.prepare(`UPDATE tasks SET status = 'completed', conversation_id = ? WHERE id = ?`).run(conv, later);
  assert.equal(reopenPausedTask(db, 'api', conv, 2), null);
  const reply = enqueue(db, 'api', [conv]);
  const claim = claimNextTask(db)!;
  assert.equal(claim.task.id, reply);
  assert.equal(claim.resumedFromPause, false);
  assert.equal(getTask(db, old)?.status, 'paused');
});

test("queued mails of a running conversation are found for live delivery (resolved or not yet); mergeLive takes a mail once", () => {
  const db = openDatabase(':memory:', { migrate: true });
  enqueue(db, 'api');
  const run = claimNextTask(db, 1000)!;
  const f = enqueue(db, 'api', [run.conversationId]);
  enqueue(db, 'api');
  enqueue(db, 'web', [run.conversationId]);
  const running = [{ taskId: run.task.id, repoId: 'api', conversationId: run.conversationId }];
  assert.deepEqual(queuedFollowUpsOf(db, running), [{ taskId: f, runningTaskId: run.task.id }]);
  assert.deepEqual(queuedFollowUpsOf(db, []), []);
  assert.equal(mergeLive(db, f, 0, run.task.id, run.conversationId, 2000), true);
  assert.deepEqual(mergeOf(db, f), { into: run.task.id, kind: 'live' });
  assert.equal(mergeLive(db, f, 0, run.task.id, run.conversationId, 2000), false, 'not queued any more');
  assert.deepEqual(queuedFollowUpsOf(db, running), []);
  assert.deepEqual(mergedInto(db, run.task.id, { kind: 'coalesced' }), [], 'live merges are not read back as coalesced mails');
});

test('a follow-up queued behind a backlog of new mails is still found for live delivery', () => {
  const db = openDatabase(':memory:', { migrate: true });
  enqueue(db, 'api');
  const run = claimNextTask(db, 1000)!;
  for (let i = 0; i < 600; i++) enqueue(db, 'api');
  const f = enqueue(db, 'api', [run.conversationId]);
  const running = [{ taskId: run.task.id, repoId: 'api', conversationId: run.conversationId }];
  assert.deepEqual(queuedFollowUpsOf(db, running), [{ taskId: f, runningTaskId: run.task.id }]);
});
