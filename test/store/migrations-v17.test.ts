/**
 * Migration 17 (the task API) adds api_tasks and task_results beside the existing tables: a database
 * written before it keeps its tasks, which are mail tasks (no api_tasks row) with no result yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { migrate } from '../../src/store/migrations.ts';
import { getApiTask, startsPreassignedConversation } from '../../src/store/api-tasks.ts';
import { getTaskResult, saveTaskResult } from '../../src/store/task-results.ts';

test('a version-15 database migrates with its tasks as mail tasks, and takes API rows and results after', () => {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db, 15);
  db.prepare(`INSERT INTO messages (id, repo_id, raw_sha256, size, raw, received_at) VALUES (1, 'r', 'x', 1, x'00', 1)`).run();
  db.prepare(`INSERT INTO tasks (id, repo_id, message_row, status, created_at) VALUES (1, 'r', 1, 'completed', 1)`).run();
  migrate(db);
  assert.ok((db.pragma('user_version', { simple: true }) as number) >= 17);
  assert.equal(getApiTask(db, 1), null);
  assert.equal(startsPreassignedConversation(db, 1), false);
  assert.equal(getTaskResult(db, 1), null);
  saveTaskResult(db, 1, { text: 'first', isError: true }, 5);
  saveTaskResult(db, 1, { text: 'second', isError: false }, 6);
  assert.deepEqual(getTaskResult(db, 1), { text: 'second', isError: false }, 'a later reply replaces the result');
  assert.throws(() => saveTaskResult(db, 99, { text: 'x', isError: false }), /FOREIGN KEY/);
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  db.close();
});
