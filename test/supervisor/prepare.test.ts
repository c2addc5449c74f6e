/**
 * The daemon has the supervisor build its listener bundle first (prepare()) and starts the threads
 * later: one build serves the start, and a stop in between leaves no bundle behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadServerConfig } from '../../src/config/index.ts';
import { openDatabase } from '../../src/store/database.ts';
import { Supervisor } from '../../src/supervisor/supervisor.ts';
import { writeTestConfig } from '../harness/daemon-process.ts';

/** The bundle directories ThreadBundles made in `tmp`. */
const bundleDirs = (tmp: string): string[] => fs.readdirSync(tmp).filter((d) => d.startsWith('airut-threads-'));

/** Runs `fn` with os.tmpdir() pointing at a new, empty directory (where ThreadBundles makes its own). */
async function withPrivateTmp(fn: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-prepare-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    await fn(tmp);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function setup(): { supervisor: Supervisor; close: () => void } {
  // Port 1: nothing listens; the listeners retry in the background, which is not what this is about.
  const cfg = writeTestConfig({ repos: ['one', 'two'].map((id) => ({ id, imapPort: 1, user: `${id}-bot`, password: 'unused' })) });
  const config = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  const db = openDatabase(cfg.dbPath, { migrate: true });
  return { supervisor: new Supervisor(config, db), close: () => db.close() };
}

test('prepare() builds the bundle that start() then uses: one build for every repository', async () => {
  await withPrivateTmp(async (tmp) => {
    const { supervisor, close } = setup();
    try {
      supervisor.prepare();
      supervisor.prepare(); // a second call starts nothing more
      await supervisor.start();
      const dirs = bundleDirs(tmp);
      assert.equal(dirs.length, 1, `one bundle directory: ${dirs.join(', ')}`);
      assert.equal(fs.readdirSync(path.join(tmp, dirs[0]!)).filter((f) => f.endsWith('.cjs') && !f.endsWith('.loader.cjs')).length, 1, 'one bundle for both repositories');
    } finally {
      await supervisor.stop();
      close();
    }
    assert.deepEqual(bundleDirs(tmp), [], 'stop() removed the bundle');
  });
});

test('a stop while prepare() is still building waits for the build, then removes it: nothing is left behind', async () => {
  await withPrivateTmp(async (tmp) => {
    const { supervisor, close } = setup();
    try {
      supervisor.prepare();
      await supervisor.stop();
      assert.equal(supervisor.state, 'stopped');
      // Time for a build that outlived the stop to write its files.
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(bundleDirs(tmp), [], 'no bundle directory is left');
    } finally {
      close();
    }
  });
});
