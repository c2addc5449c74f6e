import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { claimNextTask, finishTask, requeueLapsedTasks, countRunning, LEASE_MS } from '../../src/store/task-queue.ts';
import { getTask } from '../../src/store/task-queries.ts';

import { enqueue } from './enqueue.ts';

test('oldest first; a new mail gets a new 8-hex conversation', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const a = enqueue(db, 'api');
  const b = enqueue(db, 'web');
  const first = claimNextTask(db)!;
  assert.equal(first.task.id, a);
  assert.match(first.conversationId, /^[0-9a-f]{8}$/);
  assert.equal(first.isNewConversation, true);
  assert.equal(first.isResume, false);
  assert.equal(claimNextTask(db)!.task.id, b);
  assert.equal(claimNextTask(db), null);
  assert.equal(countRunning(db), 2);
});

test('a follow-up of a running conversation waits; others pass it; it runs once the first finishes', () => {
  const db = openDatabase(':memory:', { migrate: true });
  enqueue(db, 'api');
  const first = claimNextTask(db)!;
  const followUp = enqueue(db, 'api', [first.conversationId]);
  const other = enqueue(db, 'api');
  const next = claimNextTask(db)!;
  assert.equal(next.task.id, other, 'the follow-up must wait');
  assert.equal(getTask(db, followUp)?.conversationId, first.conversationId);
  assert.equal(claimNextTask(db), null);
  finishTask(db, first.task.id, { status: 'running', attempt: 1 }, { status: 'completed' });
  const resumed = claimNextTask(db)!;
  assert.equal(resumed.task.id, followUp);
  assert.equal(resumed.conversationId, first.conversationId);
  assert.equal(resumed.isNewConversation, false);
});

test('conversation ids are matched within the repo only; unknown ids start a new conversation', () => {
  const db = openDatabase(':memory:', { migrate: true });
  enqueue(db, 'api');
  const apiConv = claimNextTask(db)!.conversationId;
  finishTask(db, 1, { status: 'running', attempt: 1 }, { status: 'completed' });
  enqueue(db, 'web', [apiConv]);
  const web = claimNextTask(db)!;
  assert.notEqual(web.conversationId, apiConv);
  assert.equal(web.isNewConversation, true);
  enqueue(db, 'api', ['0badc0de', apiConv]);
  const api = claimNextTask(db)!;
  assert.equal(api.conversationId, apiConv, 'the first known reference wins');
});

test('lapsed leases are requeued once, then abandoned as interrupted', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const id = enqueue(db, 'api');
  const t0 = 1_000_000;
  claimNextTask(db, t0);
  assert.deepEqual(requeueLapsedTasks(db, {}, t0 + 1000), { requeued: [], abandoned: [] });
  assert.deepEqual(requeueLapsedTasks(db, {}, t0 + LEASE_MS + 1), { requeued: [id], abandoned: [] });
  const again = claimNextTask(db, t0 + LEASE_MS + 2)!;
  assert.equal(again.isResume, true);
  assert.deepEqual(requeueLapsedTasks(db, { all: true }), { requeued: [], abandoned: [id] });
  assert.equal(getTask(db, id)?.status, 'interrupted');
  assert.equal(claimNextTask(db), null);
});

test('a task interrupted by a shutdown is queued again at start-up; the sweep leaves tasks the dispatcher still runs alone', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const id = enqueue(db, 'api');
  claimNextTask(db);
  finishTask(db, id, { status: 'running', attempt: 1 }, { status: 'interrupted', error: 'stopped by a shutdown', resumePending: true });
  assert.deepEqual(requeueLapsedTasks(db, {}), { requeued: [], abandoned: [] }, 'the sweep does not touch interrupted tasks');
  assert.deepEqual(requeueLapsedTasks(db, { all: true }), { requeued: [id], abandoned: [] });
  const again = claimNextTask(db)!;
  assert.equal(again.task.id, id);
  assert.equal(again.isResume, true);
  assert.equal(getTask(db, id)?.error, null);

  const t0 = Date.now();
  assert.deepEqual(requeueLapsedTasks(db, { alive: new Set([id]) }, t0 + LEASE_MS * 2), { requeued: [], abandoned: [] });
  finishTask(db, id, { status: 'running', attempt: 2 }, { status: 'interrupted', error: 'stopped again', resumePending: true });
  assert.deepEqual(requeueLapsedTasks(db, { all: true }), { requeued: [], abandoned: [id] }, 'a third run is not attempted');
});
