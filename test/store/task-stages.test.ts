/** When each stage of a task's run began, on a real SQLite store. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentTaskStage, listTaskStages, recordTaskStage } from '../../src/store/task-stages.ts';
import { queuedTask, tempDatabase } from '../harness/queued-task.ts';

test('stages are listed in the order they were entered, per attempt; the latest is the current one', () => {
  const db = tempDatabase('task-stages');
  const id = queuedTask(db);
  const other = queuedTask(db);
  assert.equal(currentTaskStage(db, id), null, 'no stage before the runner reports one');
  recordTaskStage(db, id, 1, 'repo-inputs', 100);
  recordTaskStage(db, id, 1, 'conversation', 120);
  recordTaskStage(db, other, 1, 'repo-inputs', 130);
  recordTaskStage(db, id, 2, 'repo-inputs', 500);
  assert.deepEqual(listTaskStages(db, id), [
    { taskId: id, attempt: 1, stage: 'repo-inputs', at: 100 },
    { taskId: id, attempt: 1, stage: 'conversation', at: 120 },
    { taskId: id, attempt: 2, stage: 'repo-inputs', at: 500 },
  ]);
  assert.deepEqual(currentTaskStage(db, id), { taskId: id, attempt: 2, stage: 'repo-inputs', at: 500 });
  db.close();
});
