import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from '../../src/store/database.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { claimNextTask } from '../../src/store/task-queue.ts';
import { listMailForTask } from '../../src/store/outgoing-mail.ts';
import { queueMailWithOutcome } from '../../src/store/task-outcome.ts';
import { queuedTask, tempDatabase } from '../harness/queued-task.ts';

function setup(): { db: Db; taskId: number } {
  const db = tempDatabase('outcome');
  return { db, taskId: queuedTask(db) };
}

function mail(taskId: number, kind: 'ack' | 'reply') {
  return { repoId: 'api', taskId, conversationId: null, kind, messageId: `<${kind}@x>`, recipient: 'a@example.com', subject: 'Re: s', raw: Buffer.from('x') };
}

test('the outcome and its mail are recorded together; a mail without an outcome is just queued', () => {
  const { db, taskId } = setup();
  claimNextTask(db);
  assert.equal(queueMailWithOutcome(db, mail(taskId, 'ack')), null);
  const r = queueMailWithOutcome(db, mail(taskId, 'reply'), { expected: { status: 'running', attempt: 1 }, update: { status: 'completed', turns: 3 } });
  assert.deepEqual(r, { applied: true });
  assert.equal(getTask(db, taskId)?.status, 'completed');
  assert.equal(getTask(db, taskId)?.turns, 3);
  assert.deepEqual(listMailForTask(db, taskId).map((m) => m.kind), ['ack', 'reply']);
  db.close();
});

test('a refused outcome queues no mail and changes nothing', () => {
  const { db, taskId } = setup();
  claimNextTask(db);
  const r = queueMailWithOutcome(db, mail(taskId, 'reply'), { expected: { status: 'queued', attempt: 0 }, update: { status: 'cancelled' } });
  assert.deepEqual(r, { applied: false, reason: 'status-changed', current: { status: 'running', attempt: 1 } });
  const stale = queueMailWithOutcome(db, mail(taskId, 'reply'), { expected: { status: 'running', attempt: 0 }, update: { status: 'completed' } });
  assert.equal(stale?.applied, false);
  assert.equal(getTask(db, taskId)?.status, 'running');
  assert.deepEqual(listMailForTask(db, taskId), []);
  db.close();
});
