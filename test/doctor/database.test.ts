/** The database check: read-only, never creates the file, and tells what state the file is in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { checkDatabase } from '../../src/doctor/database.ts';
import { expectedTables } from '../../src/store/schema-inspect.ts';
import { openDatabase } from '../../src/store/database.ts';
import { SCHEMA_VERSION } from '../../src/store/migrations.ts';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'airut-doctor-db-'));
}

test('a missing database is reported as created on first start, and neither it nor its directory is created', () => {
  const dir = tempDir();
  const file = path.join(dir, 'sub', 'dir', 'airut.db');
  const r = checkDatabase(file);
  assert.equal(r.status, 'ok');
  assert.match(r.detail, /will be created on first start/);
  assert.equal(fs.existsSync(path.join(dir, 'sub')), false);
});

test('a database the daemon created is ok, with its schema version', () => {
  const file = path.join(tempDir(), 'airut.db');
  openDatabase(file, { migrate: true }).close();
  const r = checkDatabase(file);
  assert.equal(r.status, 'ok', r.detail);
  assert.match(r.detail, new RegExp(`schema version ${SCHEMA_VERSION}, 0 task\\(s\\)`));
});

test('a file that is not SQLite, a newer schema and missing tables fail with a way out', () => {
  const dir = tempDir();
  const garbage = path.join(dir, 'garbage.db');
  fs.writeFileSync(garbage, 'this is not a database '.repeat(20));
  const g = checkDatabase(garbage);
  assert.equal(g.status, 'FAIL');
  assert.match(g.detail, /not a SQLite database/);

  const newer = path.join(dir, 'newer.db');
  const db = openDatabase(newer, { migrate: true });
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  const n = checkDatabase(newer);
  assert.equal(n.status, 'FAIL');
  assert.match(n.fix, /upgrade airut-ts/);

  const damaged = path.join(dir, 'damaged.db');
  const d = openDatabase(damaged, { migrate: true });
  const table = expectedTables().find((t) => t === 'repo_status')!;
  d.exec(`DROP TABLE ${table}`);
  d.close();
  const m = checkDatabase(damaged);
  assert.equal(m.status, 'FAIL');
  assert.match(m.detail, /tables are missing: repo_status/);
  assert.match(m.fix, /backup/);
});

test('a database of an older schema is ok and says start-up migrates it', () => {
  if (SCHEMA_VERSION < 2) {
    // With one migration there is no older airut-ts schema; an empty file is the nearest case.
    const file = path.join(tempDir(), 'empty.db');
    new Database(file).close();
    const r = checkDatabase(file);
    assert.equal(r.status, 'ok');
    assert.match(r.detail, /schema will be created on first start/);
    return;
  }
  const file = path.join(tempDir(), 'old.db');
  const db = openDatabase(file, { migrate: true });
  db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
  db.close();
  const r = checkDatabase(file);
  assert.equal(r.status, 'ok');
  assert.match(r.detail, /start-up migrates it/);
});

test('a foreign SQLite file is not mistaken for an empty airut-ts database', () => {
  const file = path.join(tempDir(), 'other.db');
  const db = new Database(file);
  db.exec('CREATE TABLE invoices (id INTEGER)');
  db.close();
  const r = checkDatabase(file);
  assert.equal(r.status, 'FAIL');
  assert.match(r.detail, /invoices/);
});
