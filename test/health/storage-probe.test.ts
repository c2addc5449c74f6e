import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { probeDirectory, probeStorage, type ProbeRound } from '../../src/health/storage-probe.ts';
import { StorageHealth } from '../../src/health/storage-faults.ts';
import { captureLog } from '../harness/capture-log.ts';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'airut-probe-'));
}

test('an existing writable directory passes', async () => {
  const dir = tempDir();
  try {
    assert.equal(await probeDirectory(dir), null);
    assert.deepEqual(fs.readdirSync(dir), [], 'the probe file is removed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing directory that can be made on first use passes, even several levels deep', async () => {
  const dir = tempDir();
  try {
    assert.equal(await probeDirectory(path.join(dir, 'a', 'b', 'storage')), null);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing is created by the probe');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing directory below a regular file is an error naming the directory and the file', async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'blocker');
    fs.writeFileSync(file, 'x');
    const target = path.join(file, 'storage', 'conversations');
    const err = (await probeDirectory(target)) as NodeJS.ErrnoException;
    assert.equal(err.code, 'ENOTDIR');
    assert.ok(err.message.includes(target), err.message);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an existing regular file where a directory should be is an error naming it', async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'storage');
    fs.writeFileSync(file, 'x');
    const round: ProbeRound = new Map();
    assert.equal(await probeDirectory(dir, round), null);
    const err = (await probeDirectory(file, round)) as NodeJS.ErrnoException;
    assert.equal(err.code, 'ENOTDIR');
    assert.ok(err.message.includes(file), err.message);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a round writes one probe file per file system; the other directories there are checked without a write', async () => {
  const dir = tempDir();
  try {
    const dirs = ['a', 'b', 'c'].map((n) => path.join(dir, n));
    for (const d of dirs) fs.mkdirSync(d);
    const round: ProbeRound = new Map();
    for (const d of dirs) assert.equal(await probeDirectory(d, round), null);
    assert.deepEqual([...round.values()], [{ dir: dirs[0], err: null }], 'only the first directory was written to');
    for (const d of dirs) assert.deepEqual(fs.readdirSync(d), [], 'no probe file is left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A tiny tmpfs, filled up; null where this process may not mount (not root, or in a restricted container). */
function fullFileSystem(): { root: string; unmount(): void } | null {
  const root = tempDir();
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', root], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(root, { recursive: true, force: true });
    return null;
  }
  const unmount = (): void => {
    spawnSync('umount', [root]);
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    const fd = fs.openSync(path.join(root, 'fill'), 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    unmount();
    throw err;
  }
  return { root, unmount };
}

const canMount = process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;

test('a full disk is found by the real write and told of every directory on that file system', { skip: !canMount && 'mounting a tmpfs needs root' }, async (t) => {
  const full = fullFileSystem();
  if (!full) return t.skip('this host refused the tmpfs mount');
  const { log } = captureLog();
  const health = new StorageHealth({ databasePath: path.join(os.tmpdir(), 'no.db'), log });
  try {
    const a = path.join(full.root, 'alpha');
    const b = path.join(full.root, 'beta');
    // Directories exist (made before the disk filled would be the usual story; a tmpfs gives room to inodes).
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    await probeStorage(
      [
        { area: 'storage:alpha', dirs: [a] },
        { area: 'storage:beta', dirs: [b] },
      ],
      health,
      path.join(os.tmpdir(), 'no.db'),
    );
    const byArea = new Map(health.faults().map((f) => [f.area, f]));
    assert.equal(byArea.get('storage:alpha')?.code, 'ENOSPC');
    assert.equal(byArea.get('storage:beta')?.code, 'ENOSPC', 'the second directory shares the fault without a second write');
    assert.ok(byArea.get('storage:beta')?.path.startsWith(b), `beta's fault names its own directory: ${byArea.get('storage:beta')?.path}`);
    assert.ok(byArea.get('storage:beta')?.message.includes(a), 'and says where the write failed');
    fs.rmSync(path.join(full.root, 'fill'));
    await probeStorage([{ area: 'storage:alpha', dirs: [a] }, { area: 'storage:beta', dirs: [b] }], health, path.join(os.tmpdir(), 'no.db'));
    assert.deepEqual(health.faults(), [], 'both clear once the disk has room');
  } finally {
    full.unmount();
  }
});
