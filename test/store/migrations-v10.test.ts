/**
 * Migration 10 loosens the CHECK on tasks.status in place (no table rebuild, which would cascade
 * through the foreign keys): a database written before it keeps every row, event and reply, and
 * accepts the new statuses afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, SCHEMA_VERSION } from '../../src/store/migrations.ts';

test('a version-9 database migrates to 10 with its tasks, events and replies intact, and takes the new statuses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airut-mig10-'));
  try {
    const file = join(dir, 'db.sqlite');
    const old = new Database(file);
    old.pragma('foreign_keys = ON');
    migrate(old, 9);
    old.prepare(`INSERT INTO messages (id, repo_id, raw_sha256, size, raw, received_at) VALUES (1, 'r', 'x', 1, x'00', 1)`).run();
    old.prepare(`INSERT INTO tasks (id, repo_id, message_row, status, created_at) VALUES (1, 'r', 1, 'completed', 1)`).run();
    old.prepare(`INSERT INTO task_events (task_id, at, kind, data) VALUES (1, 1, 'result', '{}')`).run();
    assert.throws(() => old.prepare(`UPDATE tasks SET status = 'paused' WHERE id = 1`).run(), /CHECK/);
    old.close();

    const db = new Database(file);
    db.pragma('foreign_keys = ON');
    migrate(db);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal((db.prepare(`SELECT COUNT(*) AS n FROM task_events WHERE task_id = 1`).get() as { n: number }).n, 1);
    for (const s of ['budget_exceeded', 'paused', 'merged']) db.prepare(`UPDATE tasks SET status = ? WHERE id = 1`).run(s);
    assert.throws(() => db.prepare(`UPDATE tasks SET status = 'bogus' WHERE id = 1`).run(), /CHECK/);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
