import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeTransaction, type Db } from '../../src/store/database.ts';
import { getTask, type TaskStatus } from '../../src/store/task-queries.ts';
import { claimNextTask, finishTask, requeueLapsedTasks, LEASE_MS } from '../../src/store/task-queue.ts';
import { queuedTask, tempDatabase } from '../harness/queued-task.ts';
import { TASK_TRANSITIONS, transitionAllowed, transitionTask, type TaskChange } from '../../src/store/task-transitions.ts';

const STATUSES: readonly TaskStatus[] = ['queued', 'running', 'completed', 'failed', 'timeout', 'cancelled', 'interrupted', 'rejected', 'budget_exceeded', 'paused', 'merged'];

/** The moves the code makes, written out once more: the table must say exactly this. */
const EXPECTED_ALLOWED = new Set([
  'queued→running',
  'queued→cancelled',
  'running→completed',
  'running→failed',
  'running→timeout',
  'running→cancelled',
  'running→interrupted',
  'running→queued',
  'interrupted→queued',
  'interrupted→interrupted',
  'queued→merged',
  'running→budget_exceeded',
  'running→paused',
  'paused→queued',
  'paused→cancelled',
]);

/** A task row put straight into `status` at `attempts` (a fixture, not a transition). */
function taskIn(db: Db, status: TaskStatus, attempts: number): number {
  const id = queuedTask(db);
  db.prepare(`UPDATE tasks SET status = ?, attempts = ?, conversation_id = 'c0ffee00', lease_until = 5 WHERE id = ?`).run(status, attempts, id);
  return id;
}

function changeTo(to: TaskStatus): TaskChange {
  if (to === 'running') return { to, conversationId: 'c0ffee00', leaseUntil: 123 };
  if (to === 'queued') return { to };
  if (to === 'merged') return { to, mergedInto: 1, mergeKind: 'coalesced', conversationId: 'c0ffee00' };
  if (to === 'rejected') return { to } as unknown as TaskChange; // not a move any caller can type: refused all the same
  return { to, error: `now ${to}` };
}

function row(db: Db, id: number): { status: string; attempts: number; error: string | null; finished_at: number | null; lease_until: number | null } {
  return db.prepare(`SELECT status, attempts, error, finished_at, lease_until FROM tasks WHERE id = ?`).get(id) as never;
}

test('the table allows exactly the moves the code makes; final states have no way out', () => {
  const allowed = STATUSES.flatMap((from) => STATUSES.filter((to) => transitionAllowed(from, to)).map((to) => `${from}→${to}`));
  assert.deepEqual(new Set(allowed), EXPECTED_ALLOWED);
  for (const s of ['completed', 'failed', 'timeout', 'cancelled', 'rejected', 'budget_exceeded', 'merged'] as const) assert.deepEqual(Object.keys(TASK_TRANSITIONS[s]), [], s);
});

test('every allowed move applies when the row is in the expected status and attempt', () => {
  const db = tempDatabase('transitions');
  for (const key of EXPECTED_ALLOWED) {
    const [from, to] = key.split('→') as [TaskStatus, TaskStatus];
    const id = taskIn(db, from, 1);
    const r = writeTransaction(db, () => transitionTask(db, id, { status: from, attempt: 1 }, changeTo(to), 1000));
    assert.deepEqual(r, { applied: true }, key);
    const after = row(db, id);
    assert.equal(after.status, to, key);
    assert.equal(after.attempts, to === 'running' ? 2 : 1, `${key}: only a claim counts an attempt`);
    if (to === 'running') assert.equal(after.lease_until, 123, key);
    else assert.equal(after.lease_until, null, `${key}: no lease outside running`);
    if (to === 'queued' || to === 'running') assert.equal(after.finished_at, null, key);
    else if (to === 'merged') assert.deepEqual([after.finished_at, after.error], [1000, null], key);
    else assert.deepEqual([after.finished_at, after.error], [1000, `now ${to}`], key);
  }
  db.close();
});

test('every move the table does not list is refused and leaves the row as it was', () => {
  const db = tempDatabase('transitions');
  for (const from of STATUSES) {
    for (const to of STATUSES) {
      if (EXPECTED_ALLOWED.has(`${from}→${to}`)) continue;
      const id = taskIn(db, from, 1);
      const before = row(db, id);
      const r = transitionTask(db, id, { status: from, attempt: 1 }, changeTo(to));
      assert.deepEqual(r, { applied: false, reason: 'not-allowed', current: { status: from, attempt: 1 } }, `${from}→${to}`);
      assert.deepEqual(row(db, id), before, `${from}→${to}`);
    }
  }
  db.close();
});

test('every allowed move is refused once the row left the expected status, or is of another attempt', () => {
  const db = tempDatabase('transitions');
  for (const key of EXPECTED_ALLOWED) {
    const [from, to] = key.split('→') as [TaskStatus, TaskStatus];
    for (const other of STATUSES.filter((s) => s !== from)) {
      const id = taskIn(db, other, 1);
      const before = row(db, id);
      const r = transitionTask(db, id, { status: from, attempt: 1 }, changeTo(to));
      assert.deepEqual(r, { applied: false, reason: 'status-changed', current: { status: other, attempt: 1 } }, `${key}, row ${other}`);
      assert.deepEqual(row(db, id), before, `${key}, row ${other}`);
    }
    for (const attempt of [0, 2]) {
      const id = taskIn(db, from, attempt);
      const before = row(db, id);
      const r = transitionTask(db, id, { status: from, attempt: 1 }, changeTo(to));
      assert.deepEqual(r, { applied: false, reason: 'attempt-changed', current: { status: from, attempt } }, `${key}, attempt ${attempt}`);
      assert.deepEqual(row(db, id), before, `${key}, attempt ${attempt}`);
    }
  }
  assert.deepEqual(transitionTask(db, 9999, { status: 'running', attempt: 1 }, changeTo('completed')), {
    applied: false,
    reason: 'missing',
    current: null,
  });
  db.close();
});

test('a runner whose task was requeued and claimed again cannot record its outcome over the new run', () => {
  const db = tempDatabase('transitions');
  const id = taskIn(db, 'queued', 0);
  const t0 = 1_000_000;
  const first = claimNextTask(db, t0)!;
  assert.equal(first.task.attempts, 1);
  assert.deepEqual(requeueLapsedTasks(db, {}, t0 + LEASE_MS + 1).requeued, [id]);
  const second = claimNextTask(db, t0 + LEASE_MS + 2)!;
  assert.equal(second.task.attempts, 2);

  const late = finishTask(db, id, { status: 'running', attempt: first.task.attempts }, { status: 'completed', costUsd: 9 });
  assert.deepEqual(late, { applied: false, reason: 'attempt-changed', current: { status: 'running', attempt: 2 } });
  assert.equal(getTask(db, id)?.status, 'running');
  assert.equal(getTask(db, id)?.costUsd, null);

  assert.deepEqual(finishTask(db, id, { status: 'running', attempt: 2 }, { status: 'completed', costUsd: 1 }), { applied: true });
  assert.equal(getTask(db, id)?.costUsd, 1);
  assert.deepEqual(finishTask(db, id, { status: 'running', attempt: 2 }, { status: 'failed' }).applied, false, 'an outcome is recorded once');
  db.close();
});

test("a cancel of a queued task that the dispatcher claimed meanwhile is refused", () => {
  const db = tempDatabase('transitions');
  const id = taskIn(db, 'queued', 0);
  claimNextTask(db);
  const r = finishTask(db, id, { status: 'queued', attempt: 0 }, { status: 'cancelled', error: 'removed from the queue by an operator' });
  assert.deepEqual(r, { applied: false, reason: 'status-changed', current: { status: 'running', attempt: 1 } });
  assert.equal(getTask(db, id)?.error, null);
  db.close();
});
