/**
 * The supervisor with real listener threads against a real Dovecot: a repo whose listener thread
 * keeps dying is restarted with growing delays, while the other repo's thread keeps accepting mail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadServerConfig } from '../../src/config/index.ts';
import { openDatabase } from '../../src/store/database.ts';
import { loadRepoStatuses } from '../../src/store/repo-status.ts';
import { Supervisor } from '../../src/supervisor/supervisor.ts';
import { startDovecot } from '../harness/dovecot.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { waitUntil, writeTestConfig } from '../harness/daemon-process.ts';

const CRASHING_LISTENER = new URL('../fixtures/workers/crashing-listener.ts', import.meta.url);

function mail(to: string, subject: string): string {
  return buildMail({ from: 'alice@example.com', to, subject, text: subject, authResults: [dmarcPass('mx.repos.test', 'example.com')] });
}

test('a listener thread that dies is restarted with backoff while the other repo keeps accepting mail; it recovers by itself', async () => {
  const dovecot = await startDovecot({ users: ['good-bot', 'bad-bot'].map((user) => ({ user, password: `pw-${user}` })) });
  const cfg = writeTestConfig({
    repos: ['good', 'bad'].map((id) => ({ id, imapPort: dovecot.port, user: `${id}-bot`, password: `pw-${id}-bot`, useIdle: true })),
  });
  const config = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  const db = openDatabase(cfg.dbPath, { migrate: true });
  // Threads copy the environment when they start: this is where the faulty listener counts its starts.
  process.env.AIRUT_TEST_LISTENER_STARTS = path.join(cfg.dir, 'storage', 'bad', 'listener-starts.log');
  const crashes: Array<{ reason: string; restartInMs: number; status: string | undefined; goodTasks: number }> = [];
  const tasksOf = (repo: string) => (db.prepare(`SELECT count(*) AS n FROM tasks WHERE repo_id = ?`).get(repo) as { n: number }).n;
  const supervisor = new Supervisor(config, db, {
    listenerEntry: (repoId) => (repoId === 'bad' ? CRASHING_LISTENER : undefined),
    onListenerCrash: (repoId, reason, restartInMs) => {
      assert.equal(repoId, 'bad');
      const status = loadRepoStatuses(db).find((s) => s.repoId === 'bad');
      crashes.push({ reason, restartInMs, status: status?.state, goodTasks: tasksOf('good') });
    },
  });
  try {
    await dovecot.append('bad-bot', mail('bad-bot@repos.test', 'waits for the listener to recover'));
    await supervisor.start();
    await dovecot.append('good-bot', mail('good-bot@repos.test', 'first'));
    await waitUntil(() => tasksOf('good') === 1, 15_000, 'the first mail of the healthy repo');
    await waitUntil(() => crashes.length >= 2, 15_000, 'two crashes of the faulty listener');
    await dovecot.append('good-bot', mail('good-bot@repos.test', 'second, while the other listener is down'));
    await waitUntil(() => tasksOf('good') === 2, 15_000, 'the second mail of the healthy repo');
    assert.ok(crashes.length < 4, 'accepted while the faulty listener was still crashing');

    await waitUntil(() => tasksOf('bad') === 1, 30_000, 'the faulty repo to recover and accept its mail');
    await waitUntil(() => loadRepoStatuses(db).find((s) => s.repoId === 'bad')?.state === 'idle', 15_000, 'the recovered listener to idle');
    assert.equal(crashes.length, 3);
    assert.deepEqual(
      crashes.map((c) => c.reason),
      ['thread exited with code 1', 'thread exited with code 1', 'thread exited with code 3'],
      'an uncaught exception, an unhandled rejection, process.exit(3)',
    );
    assert.ok(crashes.every((c) => c.status === 'backoff'), 'each crash is recorded as backoff for /health');
    // Backoff: attempt k waits 50–100 % of 1 s · 2^k, and the next start came no earlier.
    const starts = fs
      .readFileSync(path.join(cfg.dir, 'storage', 'bad', 'listener-starts.log'), 'utf8')
      .trim()
      .split('\n')
      .map(Number);
    assert.equal(starts.length, 4);
    crashes.forEach((c, k) => {
      const cap = 1000 * 2 ** k;
      assert.ok(c.restartInMs >= cap / 2 && c.restartInMs <= cap, `delay ${k}: ${c.restartInMs} ms within [${cap / 2}, ${cap}]`);
      assert.ok(starts[k + 1]! - starts[k]! >= c.restartInMs, `start ${k + 1} waited for its delay`);
    });
    assert.equal(tasksOf('good'), 2);
  } finally {
    delete process.env.AIRUT_TEST_LISTENER_STARTS;
    await supervisor.stop();
    db.close();
    await dovecot.stop();
  }
});
