import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeDirectory } from '../../src/health/storage-probe.ts';

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
