/**
 * Issue 2 end to end: the real daemon process against a real Dovecot. Mail is delivered with IMAP
 * APPEND carrying the Authentication-Results header the test wants.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { buildMail, dmarcPass, dmarcFail } from '../harness/mail-builder.ts';
import { startTcpProxy } from '../harness/tcp-proxy.ts';
import { freePort } from '../harness/ports.ts';
import { openTestDb, startDaemon, waitUntil, writeTestConfig, type TestConfig } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';

interface TaskView {
  id: number;
  repo_id: string;
  sender: string | null;
  subject: string;
  status: string;
  reason: string | null;
  message_id: string | null;
}

function tasks(cfg: TestConfig): TaskView[] {
  if (!fs.existsSync(cfg.dbPath)) return [];
  const db = openTestDb(cfg);
  try {
    return db.prepare('SELECT id, repo_id, sender, subject, status, reason, message_id FROM tasks ORDER BY id').all() as TaskView[];
  } catch {
    return []; // the daemon is still creating the schema
  } finally {
    db.close();
  }
}

function repoState(cfg: TestConfig, repo: string): string | undefined {
  if (!fs.existsSync(cfg.dbPath)) return undefined;
  const db = openTestDb(cfg);
  try {
    return (db.prepare('SELECT state FROM repo_status WHERE repo_id = ?').get(repo) as { state: string } | undefined)?.state;
  } catch {
    return undefined; // the daemon is still creating the schema
  } finally {
    db.close();
  }
}

function mailFrom(from: string, to: string, subject: string, authResults = [dmarcPass(AUTHSERV, from.split('@')[1])]) {
  return buildMail({ from, to, subject, text: `please do: ${subject}`, authResults });
}

const dovecots: DovecotServer[] = [];
after(async () => {
  await Promise.all(dovecots.map((d) => d.stop()));
});

async function dovecot(users: string[]): Promise<DovecotServer> {
  const d = await startDovecot({ users: users.map((u) => ({ user: u, password: `pw-${u}-secret` })) });
  dovecots.push(d);
  return d;
}

test('two repos, two inboxes: each mail becomes a task of its repo; IDLE and polling both pick up new mail', async () => {
  const d = await dovecot(['api-bot', 'web-bot']);
  const cfg = writeTestConfig({
    repos: [
      { id: 'api', imapPort: d.port, user: 'api-bot', password: 'pw-api-bot-secret', useIdle: true, authorizedSenders: ['alice@example.com'] },
      { id: 'web', imapPort: d.port, user: 'web-bot', password: 'pw-web-bot-secret', useIdle: false, pollInterval: 1, authorizedSenders: ['*@team.example'] },
    ],
  });
  // Waiting before start-up: processed at start.
  await d.append('api-bot', mailFrom('alice@example.com', 'api-bot@repos.test', 'api first'));
  await d.append('web-bot', mailFrom('bob@team.example', 'web-bot@repos.test', 'web first'));
  const daemon = startDaemon(cfg);
  try {
    await waitUntil(() => tasks(cfg).length === 2, 20_000, 'the two waiting mails to be accepted');
    await waitUntil(() => repoState(cfg, 'api') === 'idle' && repoState(cfg, 'web') === 'polling', 10_000, 'listeners idle/polling');

    // Arriving while running: IDLE (api) and polling (web).
    await d.append('api-bot', mailFrom('alice@example.com', 'api-bot@repos.test', 'api second'));
    await d.append('web-bot', mailFrom('bob@team.example', 'web-bot@repos.test', 'web second'));
    // Not for this repo: bob is authorized for web only; a spoof fails DMARC; a loop from ourselves.
    await d.append('api-bot', mailFrom('bob@team.example', 'api-bot@repos.test', 'bob tries api'));
    await d.append('api-bot', mailFrom('alice@example.com', 'api-bot@repos.test', 'spoofed', [dmarcFail(AUTHSERV, 'example.com')]));
    await waitUntil(() => tasks(cfg).length === 6, 20_000, 'all six mails to be recorded');
    await waitUntil(async () => (await d.countInbox('api-bot')) === 0 && (await d.countInbox('web-bot')) === 0, 10_000, 'inboxes emptied');

    const all = tasks(cfg);
    const bySubject = new Map(all.map((t) => [t.subject, t]));
    for (const s of ['api first', 'api second']) {
      assert.equal(bySubject.get(s)?.repo_id, 'api');
      assert.equal(bySubject.get(s)?.sender, 'alice@example.com');
      // Accepted: queued, or already picked up by the dispatcher (it has no runnable repo here).
      assert.notEqual(bySubject.get(s)?.status, 'rejected');
      assert.equal(bySubject.get(s)?.reason, null);
    }
    for (const s of ['web first', 'web second']) {
      assert.equal(bySubject.get(s)?.repo_id, 'web');
      assert.equal(bySubject.get(s)?.sender, 'bob@team.example');
      // Accepted: queued, or already picked up by the dispatcher (it has no runnable repo here).
      assert.notEqual(bySubject.get(s)?.status, 'rejected');
      assert.equal(bySubject.get(s)?.reason, null);
    }
    assert.deepEqual(
      { status: bySubject.get('bob tries api')?.status, reason: bySubject.get('bob tries api')?.reason, repo: bySubject.get('bob tries api')?.repo_id },
      { status: 'rejected', reason: 'unauthorized', repo: 'api' },
    );
    assert.equal(bySubject.get('spoofed')?.status, 'rejected');
    assert.equal(bySubject.get('spoofed')?.reason, 'auth_failed');

    // Every log line names its repo (except process-wide lines), and no password is ever logged.
    const text = JSON.stringify(daemon.logs);
    assert.ok(!text.includes('pw-api-bot-secret') && !text.includes('pw-web-bot-secret'), 'a password reached the log');
    for (const l of daemon.logs.filter((l) => /mail (accepted|rejected)/.test(l.msg))) {
      assert.ok(l.repo === 'api' || l.repo === 'web', `log line without repo: ${JSON.stringify(l)}`);
    }

    const started = Date.now();
    assert.equal(await daemon.stop('SIGTERM'), 0);
    assert.ok(Date.now() - started < 10_000, 'SIGTERM took too long');
    assert.equal(repoState(cfg, 'api'), 'stopped');
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('SIGKILL mid-batch: after restart every mail is recorded exactly once; a re-delivered copy is not accepted twice', async () => {
  const d = await dovecot(['crash-bot']);
  const cfg = writeTestConfig({ repos: [{ id: 'crash', imapPort: d.port, user: 'crash-bot', password: 'pw-crash-bot-secret' }] });
  const N = 40;
  for (let i = 0; i < N; i++) await d.append('crash-bot', mailFrom('alice@example.com', 'crash-bot@repos.test', `job ${i}`));

  const first = startDaemon(cfg);
  await first.waitForLog((l) => l.msg === 'mail accepted', 20_000, 'the first acceptance');
  await first.stop('SIGKILL');
  const acceptedBeforeKill = tasks(cfg).length;
  assert.ok(acceptedBeforeKill >= 1 && acceptedBeforeKill <= N);

  const second = startDaemon(cfg);
  try {
    await waitUntil(async () => (await d.countInbox('crash-bot')) === 0, 30_000, 'the inbox to be emptied after restart');
    const all = tasks(cfg);
    assert.equal(all.length, N, 'every mail recorded exactly once');
    assert.equal(new Set(all.map((t) => t.message_id)).size, N);

    // The window "recorded but not yet removed from the server": the identical mail is on the
    // server again. It must be removed without a second task.
    const db = openTestDb(cfg);
    const raw = (db.prepare('SELECT raw FROM messages ORDER BY id LIMIT 1').get() as { raw: Buffer }).raw;
    db.close();
    await d.append('crash-bot', raw);
    await second.waitForLog((l) => l.msg.startsWith('mail already recorded'), 15_000, 'the duplicate to be noticed');
    await waitUntil(async () => (await d.countInbox('crash-bot')) === 0, 10_000, 'the duplicate removed');
    assert.equal(tasks(cfg).length, N);
    assert.equal(await second.stop('SIGTERM'), 0);
  } finally {
    await second.stop('SIGKILL');
  }
});

test('IMAP connection cut during IDLE: the listener reconnects and mail sent during the outage is accepted', async () => {
  const d = await dovecot(['flaky-bot']);
  const proxy = await startTcpProxy(d.port);
  const steady = await dovecot(['steady-bot']);
  const port = await freePort();
  const cfg = writeTestConfig({
    repos: [
      { id: 'flaky', imapPort: proxy.port, user: 'flaky-bot', password: 'pw-flaky-bot-secret' },
      { id: 'steady', imapPort: steady.port, user: 'steady-bot', password: 'pw-steady-bot-secret' },
    ],
    global: { dashboard: { enabled: true, host: '127.0.0.1', port } },
  });
  const health = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/health`);
    return { status: r.status, body: (await r.json()) as { repos?: Record<string, { state?: string }> } };
  };
  const daemon = startDaemon(cfg);
  try {
    await waitUntil(() => repoState(cfg, 'flaky') === 'idle' && repoState(cfg, 'steady') === 'idle', 20_000, 'the listeners to idle');
    assert.equal((await health()).status, 200);
    proxy.setDown(true);
    proxy.cutAll();
    await d.append('flaky-bot', mailFrom('alice@example.com', 'flaky-bot@repos.test', 'sent during outage'));
    await waitUntil(() => repoState(cfg, 'flaky') === 'backoff', 10_000, 'the listener to notice the outage');
    const degraded = await health();
    assert.equal(degraded.status, 503, 'health is degraded while a repo cannot reach its IMAP server');
    assert.equal(degraded.body.repos?.flaky?.state, 'backoff');
    assert.equal(degraded.body.repos?.steady?.state, 'idle', 'the other repo is unaffected');
    // The other repo keeps working during the outage.
    await steady.append('steady-bot', mailFrom('alice@example.com', 'steady-bot@repos.test', 'steady during outage'));
    await waitUntil(() => tasks(cfg).some((t) => t.subject === 'steady during outage'), 20_000, 'the other repo to accept mail');
    assert.ok(!tasks(cfg).some((t) => t.subject === 'sent during outage'));
    proxy.setDown(false);
    await waitUntil(() => tasks(cfg).some((t) => t.subject === 'sent during outage'), 30_000, 'the mail to be accepted after reconnect');
    await waitUntil(() => repoState(cfg, 'flaky') === 'idle', 10_000, 'the listener back to idle');
    await waitUntil(async () => (await health()).status === 200, 10_000, 'health back to 200');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
    await proxy.close();
  }
});
