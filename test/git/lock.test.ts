import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AirutError } from '../../src/errors.ts';
import { withFileLock, withMutex } from '../../src/git/lock.ts';
import { credentialsOf, redact, redactUrlCredentials } from '../../src/git/redact.ts';

describe('withMutex', () => {
  it('runs callers one at a time, in order, even when one fails', async () => {
    const log: string[] = [];
    const job = (name: string, fail = false) =>
      withMutex('k', async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 10));
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
      });
    const results = await Promise.allSettled([job('a'), job('b', true), job('c')]);
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    assert.equal(results[1]?.status, 'rejected');
  });
});

describe('withFileLock', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'airut-lock-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('excludes concurrent holders without any in-process mutex', async () => {
    const lock = path.join(dir, 'a.lock');
    let inside = 0;
    let maxInside = 0;
    const job = () =>
      withFileLock(
        lock,
        async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 15));
          inside--;
        },
        { pollMs: 5 },
      );
    await Promise.all([job(), job(), job(), job()]);
    assert.equal(maxInside, 1);
    await assert.rejects(fs.access(lock));
  });

  it('breaks a lock whose owner process is gone', async () => {
    const lock = path.join(dir, 'b.lock');
    await fs.writeFile(lock, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), token: 'x' }));
    const t0 = Date.now();
    assert.equal(await withFileLock(lock, async () => 'got it', { pollMs: 5 }), 'got it');
    assert.ok(Date.now() - t0 < 2000);
  });

  it('breaks a lock whose heartbeat stopped (owner thread gone, process alive)', async () => {
    const lock = path.join(dir, 'c.lock');
    await fs.writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), token: 'y' }));
    const old = new Date(Date.now() - 10_000);
    await fs.utimes(lock, old, old);
    assert.equal(await withFileLock(lock, async () => 1, { staleMs: 1000, pollMs: 5 }), 1);
  });

  it('keeps a live lock alive with its heartbeat, and times out waiting for it', async () => {
    const lock = path.join(dir, 'd.lock');
    let release!: () => void;
    const held = withFileLock(lock, () => new Promise<void>((r) => (release = r)), { staleMs: 200 });
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(
      withFileLock(lock, async () => 'never', { staleMs: 200, waitTimeoutMs: 600, pollMs: 10 }),
      (e: AirutError) => e.code === 'GIT_LOCK_TIMEOUT',
    );
    release();
    await held;
  });
});

describe('redaction', () => {
  it('removes user info from URLs and the raw token elsewhere', () => {
    assert.equal(redactUrlCredentials('fatal: https://user:tok@github.com/a.git'), 'fatal: https://***@github.com/a.git');
    assert.equal(redactUrlCredentials('ssh://git@host/x'), 'ssh://***@host/x');
    assert.equal(redactUrlCredentials('no url here'), 'no url here');
    const secrets = credentialsOf('https://x-access-token:ghp_abc%2Fdef@github.com/o/r.git');
    assert.ok(secrets.includes('ghp_abc/def'));
    assert.equal(redact('token ghp_abc/def leaked', secrets), 'token *** leaked');
  });
});
