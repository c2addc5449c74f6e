import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { openDatabase } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import type { Db } from '../../src/store/database.ts';

const modeOf = (p: string): number => fs.statSync(p).mode & 0o777;

/** A pino logger that keeps what it wrote, to see what start-up reported. */
function capturingLog(): { log: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void out.push(s) });
  return { log, lines: () => out.map((s) => JSON.parse(s) as Record<string, unknown>) };
}

/** Writes a task, so that SQLite has made its -wal and -shm files. */
function writeSomething(db: Db): void {
  acceptMail(db, {
    repoId: 'alpha',
    raw: Buffer.from('From: a@example.com\r\nSubject: private\r\n\r\nthe raw mail nobody else may read'),
    imapUid: 1,
    messageId: '<m1@example.com>',
    subject: 'private',
    sender: 'a@example.com',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  });
}

describe('database file modes', () => {
  let root: string;
  let oldUmask: number;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-modes-'));
    // The usual daemon umask: without care, SQLite's files come out 0644 under it.
    oldUmask = process.umask(0o022);
  });
  afterEach(() => {
    process.umask(oldUmask);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('creates the directory 0700 and the database with its -wal and -shm files 0600', () => {
    const dir = path.join(root, 'state', 'airut');
    const file = path.join(dir, 'airut.db');
    const db = openDatabase(file, { migrate: true });
    try {
      writeSomething(db);
      assert.ok(fs.existsSync(`${file}-wal`) && fs.existsSync(`${file}-shm`), 'WAL mode made both files');
      assert.equal(modeOf(dir).toString(8), '700', 'directory');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(modeOf(f).toString(8), '600', path.basename(f));
    } finally {
      db.close();
    }
  });

  it('makes an existing world-readable database private on open and logs each change', () => {
    const dir = path.join(root, 'airut');
    const file = path.join(dir, 'airut.db');
    // A database as an older version left it: 0755 directory, 0644 files.
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const before = openDatabase(file, { migrate: true });
    writeSomething(before);
    before.pragma('wal_checkpoint(PASSIVE)');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.chmodSync(f, 0o644);
    fs.chmodSync(dir, 0o755);
    // A second connection keeps -wal and -shm in place while the daemon's connection opens.
    const { log, lines } = capturingLog();
    const db = openDatabase(file, { migrate: true, log });
    try {
      assert.equal(modeOf(dir).toString(8), '700');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(modeOf(f).toString(8), '600', path.basename(f));
      const changed = lines().filter((l) => typeof l.path === 'string' && l.to !== undefined).map((l) => [l.path, l.from, l.to]);
      assert.deepEqual(
        changed.sort(),
        [[dir, '0755', '0700'], [file, '0644', '0600'], [`${file}-shm`, '0644', '0600'], [`${file}-wal`, '0644', '0600']].sort(),
      );
      assert.equal((db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n, 1, 'the data is still there');
    } finally {
      db.close();
      before.close();
    }
  });

  it('counts the repositories\' storage dirs as airut\'s own, as in the /var/lib/airut layout', () => {
    const dir = path.join(root, 'var-lib-airut');
    fs.mkdirSync(path.join(dir, 'repos', 'alpha'), { recursive: true });
    fs.chmodSync(dir, 0o755);
    const file = path.join(dir, 'airut.db');
    const db = openDatabase(file, { migrate: true, ownPaths: [path.join(dir, 'repos', 'alpha'), '/elsewhere/beta'] });
    db.close();
    assert.equal(modeOf(dir).toString(8), '700');
    fs.mkdirSync(path.join(dir, 'not-ours'));
    fs.chmodSync(dir, 0o755);
    openDatabase(file, { ownPaths: [path.join(dir, 'repos', 'alpha')] }).close();
    assert.equal(modeOf(dir).toString(8), '755', 'with an entry nobody configured, it is left alone');
  });

  it('leaves a shared directory alone (but not the database in it) and says so', () => {
    const dir = path.join(root, 'shared');
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'someone-elses-file'), 'x');
    const file = path.join(dir, 'airut.db');
    const { log, lines } = capturingLog();
    const db = openDatabase(file, { migrate: true, log });
    try {
      writeSomething(db);
      assert.equal(modeOf(dir).toString(8), '755', 'a directory with other files in it is not made private');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(modeOf(f).toString(8), '600', path.basename(f));
      const warning = lines().find((l) => l.path === dir);
      assert.ok(warning, 'the open directory is reported');
      assert.match(String(warning.reason), /someone-elses-file/);
    } finally {
      db.close();
    }
  });
});
