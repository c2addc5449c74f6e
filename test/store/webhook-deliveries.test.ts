import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeTransaction, type Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { claimNextTask, finishTask, requeueLapsedTasks, type TaskOutcomeUpdate } from '../../src/store/task-queue.ts';
import { transitionTask } from '../../src/store/task-transitions.ts';
import {
  dueDeliveries,
  getDelivery,
  listDeliveriesForTask,
  makePendingDeliveriesDue,
  markDelivered,
  markDeliveryFailed,
  markDeliveryRetry,
  reportsFinished,
  setSubscriptions,
} from '../../src/store/webhook-deliveries.ts';
import { queuedTask, tempDatabase } from '../harness/queued-task.ts';

/** A database where repository `api` (the harness's) subscribes to task.finished. */
function subscribedDb(): Db {
  const db = tempDatabase('webhook-store');
  setSubscriptions(db, { api: ['task.finished'] });
  return db;
}

/** Claims the task and ends its run with `u`, as the runner does. */
function runAndFinish(db: Db, u: TaskOutcomeUpdate, now = 1_000): number {
  const claim = claimNextTask(db, now);
  assert.ok(claim, 'a task to claim');
  const applied = writeTransaction(db, () => finishTask(db, claim.task.id, { status: 'running', attempt: claim.task.attempts }, u, now + 5));
  assert.equal(applied.applied, true);
  return claim.task.id;
}

test('an outcome of a subscribed repository queues one delivery holding the task as it finished', () => {
  const db = subscribedDb();
  queuedTask(db);
  const id = runAndFinish(db, { status: 'completed', costUsd: 0.25, turns: 3, error: null, model: 'm', sessionId: 's' });
  const [d, ...more] = listDeliveriesForTask(db, id);
  assert.equal(more.length, 0);
  assert.ok(d);
  assert.equal(d.status, 'pending');
  assert.equal(d.event, 'task.finished');
  assert.equal(d.repoId, 'api');
  assert.match(d.key, /^[0-9a-f-]{36}$/);
  assert.equal(d.attempts, 0);
  assert.deepEqual(
    { ...d.task, conversationId: d.task.conversationId === null ? null : 'set' },
    { id, status: 'completed', conversationId: 'set', sender: 'a@example.com', subject: 's', costUsd: 0.25, turns: 3, error: null, startedAt: 1_000, finishedAt: 1_005 },
  );
});

test('a repository without a subscription gets no delivery; subscriptions are replaced as a whole', () => {
  const db = subscribedDb();
  setSubscriptions(db, { other: ['task.finished'] });
  queuedTask(db);
  const id = runAndFinish(db, { status: 'failed', error: 'boom' });
  assert.deepEqual(listDeliveriesForTask(db, id), []);
});

test('only outcomes are reported: not a claim, a requeue, a merge, a rejected mail, nor an interruption that resumes', () => {
  assert.equal(reportsFinished('interrupted', true), false);
  assert.equal(reportsFinished('interrupted', false), true);
  for (const s of ['queued', 'running', 'merged', 'rejected'] as const) assert.equal(reportsFinished(s, false), false, s);
  for (const s of ['completed', 'failed', 'timeout', 'cancelled', 'budget_exceeded', 'paused'] as const) assert.equal(reportsFinished(s, false), true, s);

  const db = subscribedDb();
  // A refused mail: recorded as rejected from the start, never reported (an oracle for spoofers).
  const rejected = acceptMail(db, {
    repoId: 'api',
    raw: Buffer.from('spoof'),
    imapUid: 99,
    messageId: '<spoof@example.com>',
    subject: 's',
    sender: 'a@example.com',
    conversationCandidates: [],
    verdict: { action: 'reject', reason: 'auth_failed', detail: 'dmarc=fail' },
  }).taskId;
  queuedTask(db);
  const id = runAndFinish(db, { status: 'interrupted', error: 'shutdown', resumePending: true });
  // Recovery puts it back in the queue, then it runs again: still nothing to report.
  assert.deepEqual(requeueLapsedTasks(db, { all: true }).requeued, [id]);
  assert.equal(listDeliveriesForTask(db, id).length + listDeliveriesForTask(db, rejected).length, 0);
});

test('recovery giving up on a task reports it interrupted, once, though the notice to the sender records it again', () => {
  const db = subscribedDb();
  queuedTask(db);
  const claim = claimNextTask(db, 1);
  assert.ok(claim);
  const { abandoned } = requeueLapsedTasks(db, { all: true, maxAttempts: 1 }, 50);
  assert.deepEqual(abandoned, [claim.task.id]);
  const [d] = listDeliveriesForTask(db, claim.task.id);
  assert.equal(d?.task.status, 'interrupted');
  assert.match(d?.task.error ?? '', /interrupted twice/);  // The dispatcher's notice (runner/notify-sender.ts) moves it interrupted → interrupted in the same attempt.
  const again = writeTransaction(db, () => finishTask(db, claim.task.id, { status: 'interrupted', attempt: 1 }, { status: 'interrupted', error: 'interrupted twice' }, 60));
  assert.equal(again.applied, true);
  assert.equal(listDeliveriesForTask(db, claim.task.id).length, 1);
});

test('the delivery commits or rolls back with the outcome', () => {
  const db = subscribedDb();
  const taskId = queuedTask(db);
  const claim = claimNextTask(db, 1);
  assert.ok(claim);
  assert.throws(() =>
    writeTransaction(db, () => {
      transitionTask(db, taskId, { status: 'running', attempt: claim.task.attempts }, { to: 'completed' });
      throw new Error('the reply could not be queued');
    }),
  );
  assert.deepEqual(listDeliveriesForTask(db, taskId), []);
  assert.equal(dueDeliveries(db, Number.MAX_SAFE_INTEGER).length, 0);
});

test('a paused task that is resumed and completes is reported twice, each as it was', () => {
  const db = subscribedDb();
  queuedTask(db);
  const id = runAndFinish(db, { status: 'paused', error: 'overloaded' });
  assert.equal(transitionTask(db, id, { status: 'paused', attempt: 1 }, { to: 'queued' }).applied, true);
  runAndFinish(db, { status: 'completed', costUsd: 1, turns: 2, error: null }, 2_000);
  assert.deepEqual(
    listDeliveriesForTask(db, id).map((d) => [d.task.status, d.task.error]),
    [
      ['paused', 'overloaded'],
      ['completed', null],
    ],
  );
});

test('attempts: due order, retry time, delivered, failed, and start-up makes everything due', () => {
  const db = subscribedDb();
  queuedTask(db);
  queuedTask(db);
  const a = runAndFinish(db, { status: 'completed', error: null }, 100);
  const b = runAndFinish(db, { status: 'failed', error: 'x' }, 200);
  const [da] = listDeliveriesForTask(db, a);
  const [db2] = listDeliveriesForTask(db, b);
  assert.ok(da && db2);
  assert.deepEqual(dueDeliveries(db, 10_000).map((d) => d.taskId), [a, b]);
  assert.equal(markDeliveryRetry(db, da.id, 'HTTP 500\nInternal   Server Error', 50_000), true);
  assert.deepEqual(dueDeliveries(db, 10_000).map((d) => d.taskId), [b]);
  assert.equal(getDelivery(db, da.id)?.lastError, 'HTTP 500 Internal Server Error');
  assert.equal(getDelivery(db, da.id)?.attempts, 1);
  assert.equal(makePendingDeliveriesDue(db, 10_000), 1);
  assert.deepEqual(dueDeliveries(db, 10_000).map((d) => d.taskId), [a, b]);
  assert.equal(markDelivered(db, da.id, 10_001), true);
  assert.equal(markDelivered(db, da.id, 10_002), false, 'not pending any more');
  assert.deepEqual({ ...getDelivery(db, da.id), task: null }, { ...da, task: null, status: 'delivered', attempts: 2, lastError: null, deliveredAt: 10_001, nextAttemptAt: 10_000 });
  assert.equal(markDeliveryFailed(db, db2.id, 'x'.repeat(2000)), true);
  const failed = getDelivery(db, db2.id);
  assert.equal(failed?.status, 'failed');
  assert.equal(failed?.lastError?.length, 500);
  assert.deepEqual(dueDeliveries(db, Number.MAX_SAFE_INTEGER), []);
});
