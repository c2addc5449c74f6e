/** The dashboard's Stop, on a real database: what each task state allows, and what the operator reads. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { operatorActions } from '../../src/daemon/operator-actions.ts';
import { DEFAULT_REJECTED_MAIL_POLICY } from '../../src/store/accept.ts';
import { LiveFeed } from '../../src/feed/live-feed.ts';
import type { CancelReason } from '../../src/protocol/runner.ts';
import type { Db } from '../../src/store/database.ts';
import { listMailForTask } from '../../src/store/outgoing-mail.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { claimNextTask, finishTask } from '../../src/store/task-queue.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { queuedTask, tempDatabase } from '../harness/queued-task.ts';

const RAW = Buffer.from('From: a@example.com\r\nTo: api-bot@repo.example\r\nSubject: s\r\nMessage-ID: <m@example.com>\r\n\r\nhello\r\n');

function setup(o: { runsHere?: boolean; repos?: Record<string, ReturnType<typeof testRepoServerConfig>> } = {}) {
  const db: Db = tempDatabase('operator');
  const feed = new LiveFeed();
  const changed: number[] = [];
  feed.subscribe('task', (id) => changed.push(id));
  const cancels: Array<[number, CancelReason]> = [];
  let kicks = 0;
  const finished: number[] = [];
  const actions = operatorActions({
    db,
    repos: o.repos ?? { api: testRepoServerConfig('api') },
    cancelRunning: (taskId, reason) => (cancels.push([taskId, reason]), o.runsHere ?? true),
    feed,
    mailQueued: () => kicks++,
    taskFinished: (id) => finished.push(id),
    taskQueued: () => undefined,
    rejectedMail: DEFAULT_REJECTED_MAIL_POLICY,
  });
  return { db, actions, changed, cancels, kicks: () => kicks, finished };
}

describe('operator actions: Stop', () => {
  it('removes a queued task, tells its sender by mail, and says so on the feed', async () => {
    const s = setup();
    const id = queuedTask(s.db, RAW);
    assert.deepEqual(await s.actions.stopTask(id), { ok: true, status: 'cancelled', message: 'removed from the queue; the sender was told' });
    assert.equal(getTask(s.db, id)?.status, 'cancelled');
    assert.equal(getTask(s.db, id)?.error, 'removed from the queue by an operator');
    assert.deepEqual(listMailForTask(s.db, id).map((m) => m.kind), ['notice']);
    assert.deepEqual(s.changed, [id]);
    assert.equal(s.kicks(), 1);
    assert.deepEqual(s.finished, [id], 'the webhook sender is told');
    assert.deepEqual(s.cancels, []);
  });

  it('stops a paused task from resuming: cancelled, its sender told; a reply then starts a new task instead', async () => {
    const s = setup();
    const id = queuedTask(s.db, RAW);
    const claimed = claimNextTask(s.db)!;
    finishTask(s.db, id, { status: 'running', attempt: claimed.task.attempts }, { status: 'paused', error: 'API 529' });
    assert.deepEqual(await s.actions.stopTask(id), { ok: true, status: 'cancelled', message: 'stopped: it will not resume; the sender was told' });
    assert.equal(getTask(s.db, id)?.status, 'cancelled');
    assert.equal(getTask(s.db, id)?.error, 'stopped by an operator while paused');
    assert.deepEqual(listMailForTask(s.db, id).map((m) => m.kind), ['notice']);
    assert.deepEqual(s.changed, [id]);
    assert.deepEqual(s.cancels, []);
  });

  it('asks the dispatcher to stop a running task, as the user', async () => {
    const s = setup();
    const id = queuedTask(s.db, RAW);
    claimNextTask(s.db);
    assert.deepEqual(await s.actions.stopTask(id), {
      ok: true,
      status: 'running',
      message: 'stopping: the container is being stopped and the sender will be told',
    });
    assert.deepEqual(s.cancels, [[id, 'user']]);
    assert.equal(getTask(s.db, id)?.status, 'running', 'the runner records the outcome, not the action');
  });

  it('refuses a running task this process does not run', async () => {
    const s = setup({ runsHere: false });
    const id = queuedTask(s.db, RAW);
    claimNextTask(s.db);
    assert.deepEqual(await s.actions.stopTask(id), { ok: false, status: 'running', message: 'the task is not running in this process' });
  });

  it('refuses a finished task, an unknown one, and a queued one of a repository no longer configured', async () => {
    const s = setup({ repos: {} });
    const id = queuedTask(s.db, RAW);
    assert.deepEqual(await s.actions.stopTask(id), {
      ok: false,
      status: 'queued',
      message: 'the task belongs to a repository that is no longer configured',
    });
    assert.deepEqual(await s.actions.stopTask(99_999), { ok: false, status: 'unknown', message: 'task 99999 does not exist' });
    const claimed = claimNextTask(s.db)!;
    finishTask(s.db, id, { status: 'running', attempt: claimed.task.attempts }, { status: 'completed' });
    assert.deepEqual(await s.actions.stopTask(id), {
      ok: false,
      status: 'completed',
      message: 'the task is completed; only queued, running or paused tasks can be stopped',
    });
    assert.deepEqual(listMailForTask(s.db, id), []);
  });
});
