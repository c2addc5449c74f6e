import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/database.ts';
import { StorageHealth, storageFaultOf } from '../../src/health/storage-faults.ts';
import { probeStorage } from '../../src/health/storage-probe.ts';
import { captureLog } from '../harness/capture-log.ts';
import { immutableSupported, setImmutable, whileImmutable } from '../harness/immutable.ts';

const DB = '/var/lib/airut/airut.db';


function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'airut-storage-'));
}

test('which errors are storage faults, looking through wrapped causes', () => {
  const sqlite = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
  assert.deepEqual(storageFaultOf(sqlite, DB), { kind: 'database', path: DB, code: 'SQLITE_IOERR_WRITE', message: 'disk I/O error' });
  assert.equal(storageFaultOf(Object.assign(new Error('full'), { code: 'SQLITE_FULL' }), DB)?.kind, 'database');
  assert.equal(storageFaultOf(Object.assign(new Error('ro'), { code: 'SQLITE_READONLY_DBMOVED' }), DB)?.kind, 'database');
  const fsErr = Object.assign(new Error("EACCES: permission denied, mkdir '/s/conversations/ab'"), { code: 'EACCES', path: '/s/conversations/ab' });
  const wrapped = new Error('could not clone', { cause: new Error('inner', { cause: fsErr }) });
  assert.deepEqual(storageFaultOf(wrapped, DB), { kind: 'disk', path: '/s/conversations/ab', code: 'EACCES', message: fsErr.message });
  // Not storage: contention, constraint violations, missing files, errors without a path.
  for (const code of ['SQLITE_BUSY', 'SQLITE_CONSTRAINT_UNIQUE', 'ENOENT', 'ECONNREFUSED']) {
    assert.equal(storageFaultOf(Object.assign(new Error(code), { code, path: '/x' }), DB), null, code);
  }
  assert.equal(storageFaultOf(Object.assign(new Error('no path'), { code: 'ENOSPC' }), DB), null);
  assert.equal(storageFaultOf('a string', DB), null);
});

test('a fault is logged once with its path, listed until its own source sees the area work again, and expires', () => {
  let clock = 1_000_000;
  const { log, lines } = captureLog();
  const health = new StorageHealth({ databasePath: DB, log, ttlMs: 60_000, now: () => clock });
  const err = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' });
  assert.equal(health.report(new Error('not storage'), 'write'), null);
  assert.ok(health.report(err, 'write'));
  health.report(err, 'write');
  health.record('database', 'probe', { kind: 'disk', path: '/var/lib/airut', code: 'ENOSPC', message: 'no space left on device' });
  assert.equal(lines.filter((l) => l.includes('"msg":"database error"')).length, 1, 'logged once, not per occurrence');
  assert.ok(lines[0]!.includes(`"path":"${DB}"`) && lines[0]!.includes('SQLITE_IOERR_WRITE'));
  const problems = health.problems();
  assert.equal(problems.length, 2);
  assert.equal(problems[0]!.component, 'database');
  assert.match(problems[0]!.message, new RegExp(`SQLITE_IOERR_WRITE at ${DB}: disk I/O error; 2 time\\(s\\)`));

  health.clear('database', ['write']);
  assert.deepEqual(health.faults().map((f) => f.source), ['probe'], 'a successful write does not clear what the probe found');
  clock += 60_001;
  assert.deepEqual(health.problems(), [], 'not seen again for the ttl: expired');
  assert.ok(lines.some((l) => l.includes('storage works again')));
});

test('real errors: a write to a database whose WAL file refuses writes, and a directory that refuses new files, found by the probe until fixed', { skip: !immutableSupported() && 'chattr +i is not available here (needs root on ext4/xfs/btrfs)' }, async () => {
  const dir = tmpdir();
  const dbPath = path.join(dir, 'airut.db');
  const db = openDatabase(dbPath, { migrate: true });
  const { log, lines } = captureLog();
  const health = new StorageHealth({ databasePath: dbPath, log });
  try {
    await whileImmutable(`${dbPath}-wal`, () => {
      let caught: unknown = null;
      try {
        db.prepare(`INSERT INTO repo_status (repo_id, state, updated_at) VALUES ('x', 'idle', 1)`).run();
      } catch (err) {
        caught = err;
      }
      assert.ok(caught, 'the write failed');
      const fault = health.report(caught, 'write');
      assert.equal(fault?.kind, 'database');
      assert.match(fault!.code, /^SQLITE_(IOERR|READONLY)/);
      assert.equal(fault!.path, dbPath);
    });
    assert.ok(lines.some((l) => l.includes(`"path":"${dbPath}"`)), 'logged with the database path');

    const storage = path.join(dir, 'storage', 'alpha');
    const conversations = path.join(storage, 'conversations');
    fs.mkdirSync(conversations, { recursive: true });
    const targets = [{ area: 'storage:alpha', dirs: [storage, conversations] }];
    await whileImmutable(conversations, async () => {
      await probeStorage(targets, health, dbPath);
      const f = health.faults().find((x) => x.area === 'storage:alpha');
      assert.equal(f?.path.startsWith(conversations), true, `the path is named: ${f?.path}`);
      assert.equal(f?.code, 'EPERM');
    });
    await probeStorage(targets, health, dbPath);
    assert.equal(health.faults().filter((x) => x.area === 'storage:alpha').length, 0, 'cleared once writable again');
    assert.deepEqual(fs.readdirSync(conversations), [], 'the probe leaves no file behind');
  } finally {
    for (const p of [`${dbPath}-wal`, path.join(dir, 'storage', 'alpha', 'conversations')]) {
      try {
        setImmutable(p, false);
      } catch {
        /* gone or never set */
      }
    }
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
