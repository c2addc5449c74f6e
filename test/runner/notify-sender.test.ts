/** Ending a task from outside its runner: the mail goes out only if the task was still as seen. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../../src/store/database.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { claimNextTask, requeueLapsedTasks } from '../../src/store/task-queue.ts';
import { listMailForTask } from '../../src/store/outgoing-mail.ts';
import { finishTaskWithMail } from '../../src/runner/notify-sender.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { queuedTask, tempDatabase } from '../harness/queued-task.ts';

const repo = testRepoServerConfig('api');
const notice = { kind: 'notice' as const, markdown: 'Stopped.' };

function setup(): { db: Db; taskId: number } {
  const db = tempDatabase('notify');
  const raw = Buffer.from('From: a@example.com\r\nTo: api-bot@repo.example\r\nSubject: s\r\nMessage-ID: <m@example.com>\r\n\r\nhello\r\n');
  return { db, taskId: queuedTask(db, raw) };
}

test('a queued task is cancelled with a notice; once claimed, the cancel is refused and nothing is sent', async () => {
  const a = setup();
  assert.equal(await finishTaskWithMail(a.db, repo, a.taskId, notice, { status: 'cancelled', error: 'removed' }, ['queued']), true);
  assert.equal(getTask(a.db, a.taskId)?.status, 'cancelled');
  assert.deepEqual(listMailForTask(a.db, a.taskId).map((m) => m.kind), ['notice']);

  const b = setup();
  claimNextTask(b.db);
  assert.equal(await finishTaskWithMail(b.db, repo, b.taskId, notice, { status: 'cancelled', error: 'removed' }, ['queued']), false);
  assert.equal(getTask(b.db, b.taskId)?.status, 'running');
  assert.deepEqual(listMailForTask(b.db, b.taskId), []);
});

test("the dispatcher fails only the run it launched, not a later attempt of the same task", async () => {
  const { db, taskId } = setup();
  const t0 = 1_000_000;
  const first = claimNextTask(db, t0)!;
  requeueLapsedTasks(db, { all: true }, t0 + 1);
  claimNextTask(db, t0 + 2);
  const failed = { status: 'failed' as const, error: 'runner thread failed' };
  const error = { kind: 'error' as const, message: 'The worker stopped.' };
  assert.equal(await finishTaskWithMail(db, repo, taskId, error, failed, ['running'], first.task.attempts), false);
  assert.equal(getTask(db, taskId)?.status, 'running');
  assert.deepEqual(listMailForTask(db, taskId), []);
  assert.equal(await finishTaskWithMail(db, repo, taskId, error, failed, ['running'], first.task.attempts + 1), true);
  assert.equal(getTask(db, taskId)?.status, 'failed');
  assert.deepEqual(listMailForTask(db, taskId).map((m) => m.kind), ['error']);
});

test('a task given up after a second interruption stays interrupted and its sender is told', async () => {
  const { db, taskId } = setup();
  claimNextTask(db);
  requeueLapsedTasks(db, { all: true });
  claimNextTask(db);
  assert.deepEqual(requeueLapsedTasks(db, { all: true }).abandoned, [taskId]);
  const update = { status: 'interrupted' as const, error: 'interrupted twice' };
  const error = { kind: 'error' as const, message: 'Interrupted twice.' };
  assert.equal(await finishTaskWithMail(db, repo, taskId, error, update, ['interrupted']), true);
  assert.equal(getTask(db, taskId)?.status, 'interrupted');
  assert.deepEqual(listMailForTask(db, taskId).map((m) => m.kind), ['error']);
});
