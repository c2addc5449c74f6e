/**
 * Issue 17, reload without a restart, end to end: the real daemon and Dovecot; the configuration
 * file is edited the way an editor saves it (a temporary file renamed over it), and the daemon's
 * file watcher reloads it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { freePort } from '../harness/ports.ts';
import { readDb } from '../harness/e2e-env.ts';
import { startDaemon, waitUntil, writeTestConfig, type DaemonProcess, type TestConfig, type TestRepo } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';

const dovecots: DovecotServer[] = [];
after(async () => {
  await Promise.all(dovecots.map((d) => d.stop()));
});

function tasks(cfg: TestConfig): Array<{ repo_id: string; subject: string; status: string; reason: string | null }> {
  return readDb(cfg, (db) => db.prepare('SELECT repo_id, subject, status, reason FROM tasks ORDER BY id').all() as never) ?? [];
}

function repoState(cfg: TestConfig, repo: string): string | undefined {
  return readDb(cfg, (db) => (db.prepare('SELECT state FROM repo_status WHERE repo_id = ?').get(repo) as { state: string } | undefined)?.state);
}

function mail(from: string, to: string, subject: string) {
  return buildMail({ from, to, subject, text: `please do: ${subject}`, authResults: [dmarcPass(AUTHSERV, from.split('@')[1])] });
}

/** How often Dovecot logged a login of `user` (the harness's own logins count too: the test does not make any for this user). */
function logins(d: DovecotServer, user: string): number {
  return d.logTail(100_000).split('\n').filter((l) => l.includes(`Login: user=<${user}>`)).length;
}

/** Writes the configuration as an editor saves it: a temporary file renamed over the original. */
function saveConfig(cfg: TestConfig, repos: TestRepo[], global: Record<string, unknown>): void {
  const scratch = writeTestConfig({ repos, global, dir: fs.mkdtempSync(path.join(cfg.dir, 'edit-')) });
  const text = fs.readFileSync(scratch.configPath, 'utf8').replaceAll(path.dirname(scratch.configPath), cfg.dir);
  const tmp = path.join(cfg.dir, '.airut.yaml.tmp');
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, cfg.configPath);
}

function countLogs(daemon: DaemonProcess, msg: string): number {
  return daemon.logs.filter((l) => l.msg === msg).length;
}

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

test('reload by editing the file: a repository added receives mail, the other keeps its IMAP session; a sender change applies without a listener restart; a broken edit changes nothing and is reported', async () => {
  const d = await startDovecot({ users: ['api-bot', 'web-bot'].map((u) => ({ user: u, password: `pw-${u}-secret` })) });
  dovecots.push(d);
  const port = await freePort();
  const global = { dashboard: { enabled: true, host: '127.0.0.1', port } };
  const api: TestRepo = { id: 'api', imapPort: d.port, user: 'api-bot', password: 'pw-api-bot-secret' };
  const web: TestRepo = { id: 'web', imapPort: d.port, user: 'web-bot', password: 'pw-web-bot-secret' };
  // The environment holds both passwords (as an EnvironmentFile would); the file names only api at first.
  const cfg = writeTestConfig({ repos: [api, web], global });
  saveConfig(cfg, [api], global);
  const daemon = startDaemon(cfg);
  try {
    await waitUntil(() => repoState(cfg, 'api') === 'idle', 20_000, 'the api listener to idle');
    const apiLogins = logins(d, 'api-bot');
    assert.ok(apiLogins >= 1, `the api listener logged in:\n${d.logTail(20)}`);

    // 1. A repository added by editing the file receives mail.
    saveConfig(cfg, [api, web], global);
    await daemon.waitForLog((l) => l.msg === 'configuration reloaded', 20_000, 'the reload');
    await d.append('web-bot', mail('alice@example.com', 'web-bot@repos.test', 'web after reload'));
    await waitUntil(() => tasks(cfg).some((t) => t.subject === 'web after reload' && t.repo_id === 'web' && t.status !== 'rejected'), 30_000, 'the added repository to accept mail');

    // 2. An authorized sender added takes effect for the next mail; the listener is not restarted.
    await d.append('web-bot', mail('carol@example.com', 'web-bot@repos.test', 'carol before'));
    await waitUntil(() => tasks(cfg).some((t) => t.subject === 'carol before'), 30_000, 'carol’s first mail to be recorded');
    assert.equal(tasks(cfg).find((t) => t.subject === 'carol before')?.reason, 'unauthorized');
    const reloads = countLogs(daemon, 'configuration reloaded');
    saveConfig(cfg, [api, { ...web, authorizedSenders: ['alice@example.com', 'carol@example.com'] }], global);
    await daemon.waitForLog((l) => l.msg === 'screening rules updated by a configuration reload' && l.repo === 'web', 20_000, 'the web listener to take the new senders');
    await waitUntil(() => countLogs(daemon, 'configuration reloaded') === reloads + 1, 20_000, 'the reload to finish');
    await d.append('web-bot', mail('carol@example.com', 'web-bot@repos.test', 'carol after'));
    await waitUntil(() => tasks(cfg).some((t) => t.subject === 'carol after'), 30_000, 'carol’s second mail to be recorded');
    assert.notEqual(tasks(cfg).find((t) => t.subject === 'carol after')?.status, 'rejected');
    assert.ok(!daemon.logs.some((l) => l.msg === 'listener stopped'), 'no listener was restarted');

    // 3. A broken edit changes nothing and is reported on /health (which stays 200: the old configuration runs).
    fs.writeFileSync(cfg.configPath, `${fs.readFileSync(cfg.configPath, 'utf8')}\nexecution: { max_concurrent: lots }\n`);
    await daemon.waitForLog((l) => l.msg.startsWith('configuration not applied'), 20_000, 'the refusal');
    const refused = await health(port);
    assert.equal(refused.status, 200);
    const notice = refused.body.config as { applied: boolean; message: string; problems: string[] };
    assert.equal(notice.applied, false);
    assert.match(notice.message, /configuration not applied/);
    assert.ok(notice.problems.some((p) => p.startsWith('execution.max_concurrent')), JSON.stringify(notice));
    const page = await (await fetch(`http://127.0.0.1:${port}/repos`)).text();
    assert.match(page, /configuration not applied/);
    await d.append('web-bot', mail('carol@example.com', 'web-bot@repos.test', 'carol during broken file'));
    await waitUntil(() => tasks(cfg).some((t) => t.subject === 'carol during broken file' && t.status !== 'rejected'), 30_000, 'mail accepted with the old configuration');

    // Fixed: the notice is gone.
    saveConfig(cfg, [api, { ...web, authorizedSenders: ['alice@example.com', 'carol@example.com'] }], global);
    await waitUntil(async () => (await health(port)).body.config === undefined, 20_000, 'the notice to clear');

    // 4. SIGHUP reloads too; an unchanged file applies nothing.
    daemon.child.kill('SIGHUP');
    await daemon.waitForLog((l) => l.msg === 'configuration reloaded: no change', 20_000, 'the SIGHUP reload');

    // 5. The web repository's inbox settings change: only its listener logs in again.
    const webLogins = logins(d, 'web-bot');
    const polling = { ...web, authorizedSenders: ['alice@example.com', 'carol@example.com'], useIdle: false, pollInterval: 1 };
    saveConfig(cfg, [api, polling], global);
    await daemon.waitForLog((l) => l.msg === 'listener started' && l.repo === 'web', 20_000, 'the web listener to restart');
    await waitUntil(() => repoState(cfg, 'web') === 'polling', 20_000, 'the web listener to poll');
    assert.ok(logins(d, 'web-bot') > webLogins, 'the web listener logged in again');

    // 6. The dashboard moves to another port: an open live stream ends, the new port answers.
    const stream = await fetch(`http://127.0.0.1:${port}/api/stream/tasks`);
    assert.equal(stream.status, 200);
    const streamEnded = (async () => {
      for await (const _ of stream.body!) {
        // read until the server ends the stream
      }
    })();
    const port2 = await freePort();
    saveConfig(cfg, [api, polling], { dashboard: { enabled: true, host: '127.0.0.1', port: port2 } });
    await streamEnded;
    await waitUntil(async () => (await health(port2).catch(() => ({ status: 0 }))).status === 200, 20_000, 'the dashboard on its new port');
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), 'the old port is closed');

    // Through all of it the api listener kept its one IMAP session.
    assert.equal(logins(d, 'api-bot'), apiLogins, `the api listener logged in again:\n${d.logTail(30)}`);
    assert.equal(repoState(cfg, 'api'), 'idle');
    assert.ok(!JSON.stringify(daemon.logs).includes('pw-web-bot-secret'), 'a password reached the log');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
