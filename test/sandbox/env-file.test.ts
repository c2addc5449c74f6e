/**
 * The env file that carries a task's variables to its container (issue 13, item 6): private on
 * disk, gone when removed, and never holding a value the runtimes would read differently.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { formatEnvFile, writeEnvFile } from '../../src/sandbox/env-file.ts';

describe('formatEnvFile', () => {
  it('writes one NAME=value line per variable, whatever the name', () => {
    assert.equal(formatEnvFile({ LISTEN_FDS: '3', _CONTAINERS_USERNS_CONFIGURED: 'done', A: ' spaced = "quoted" ' }), 'LISTEN_FDS=3\n_CONTAINERS_USERNS_CONFIGURED=done\nA= spaced = "quoted" \n');
  });
  it('refuses a line break (which would smuggle in another variable) and names the variable, not the value', () => {
    for (const value of ['abc\nIS_SANDBOX=0', 'abc\r', 'a\0b', 'x'.repeat(61 * 1024)]) {
      assert.throws(() => formatEnvFile({ GOOD: 'ok', BAD_ONE: value }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'SANDBOX_SPEC_INVALID');
        assert.match(e.message, /BAD_ONE/);
        assert.ok(!e.message.includes('abc') && !e.message.includes('xxxx'));
        return true;
      });
    }
  });
  it('refuses a name that is not a variable name', () => {
    assert.throws(() => formatEnvFile({ 'A=B': 'x' }), { code: 'SANDBOX_SPEC_INVALID' });
  });
});

describe('writeEnvFile', () => {
  it('creates the file 0600 in a new 0700 directory and removes both', async () => {
    const parent = join(await mkdtemp(join(tmpdir(), 'airut-envfile-')), 'env');
    try {
      const f = await writeEnvFile(parent, 'X=1\n');
      assert.equal(await readFile(f.path, 'utf8'), 'X=1\n');
      assert.equal((await stat(f.path)).mode & 0o777, 0o600);
      assert.equal((await stat(dirname(f.path))).mode & 0o777, 0o700);
      assert.equal((await stat(parent)).mode & 0o777, 0o700);
      await f.remove();
      await f.remove();
      assert.deepEqual(await readdir(parent), []);
    } finally {
      await rm(dirname(parent), { recursive: true, force: true });
    }
  });

  it('refuses a parent directory others can write to, or a link in its place', async () => {
    const base = await mkdtemp(join(tmpdir(), 'airut-envfile-'));
    try {
      const shared = join(base, 'shared');
      await mkdir(shared);
      await chmod(shared, 0o777);
      await assert.rejects(writeEnvFile(shared, 'X=1\n'), { code: 'SANDBOX_ENV_DIR_UNSAFE' });
      const link = join(base, 'link');
      await symlink(shared, link);
      await assert.rejects(writeEnvFile(link, 'X=1\n'), { code: 'SANDBOX_ENV_DIR_UNSAFE' });
      assert.deepEqual(await readdir(shared), [], 'nothing was written');
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
