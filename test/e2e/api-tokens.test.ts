/**
 * API tokens end to end: the real `airut token` command against a running daemon's database, and
 * the daemon's dashboard answering each token with its scope, at once (no restart, no reload).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, startDaemon, writeTestConfig } from '../harness/daemon-process.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { freePort } from '../harness/ports.ts';
import { runCommand } from '../harness/run-command.ts';
import { openDatabase } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';

const AIRUT = path.join(PROJECT_ROOT, 'bin', 'airut');
const ADMIN = 'e2e-admin-token-0123456789abcdef0123456789';

function airut(args: string[], env: Record<string, string>) {
  const r = spawnSync(AIRUT, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('airut token create/list/revoke against a running daemon; the dashboard keeps each token to its repositories', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const cfg = writeTestConfig({
    repos: [
      { id: 'api', user: 'bot', password: 'pw-1234', imapPort: await freePort() },
      { id: 'web', user: 'web', password: 'pw-5678', imapPort: await freePort() },
    ],
    global: { dashboard: { enabled: true, host: '127.0.0.1', port, auth_token: ADMIN } },
  });
  const run = (args: string[]) => airut(['token', ...args, '--config', cfg.configPath], cfg.env);

  // Refusals, before the daemon exists: each says what would be right.
  const unknown = run(['create', '--name', 'x', '--repos', 'api,nope', '--rights', 'read']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown repository: nope; the configuration has: api, web/);
  const rights = run(['create', '--name', 'x', '--repos', 'api', '--rights', 'admin']);
  assert.equal(rights.code, 1);
  assert.match(rights.stderr, /--rights must be read or submit, not "admin"/);
  const noName = run(['create', '--repos', 'api', '--rights', 'read']);
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /token create needs --name[\s\S]*usage: airut token create/);
  assert.equal(run(['frobnicate']).code, 2);
  assert.match(run(['revoke', 'ghost']).stderr, /there is no token named "ghost"/);

  const daemon = startDaemon(cfg, [], podmanTestEnv());
  try {
    await daemon.waitForLog((l) => l.msg === 'dashboard listening', 60_000);
    const db = openDatabase(cfg.dbPath);
    const accept = (repoId: string, subject: string): number =>
      acceptMail(db, {
        repoId, raw: Buffer.from(subject), imapUid: null, messageId: `<${subject}@example.com>`, subject,
        sender: 'alice@example.com', conversationCandidates: [], verdict: { action: 'accept', modelHint: null },
      }).taskId;
    const apiTask = accept('api', 'API-TASK');
    const webTask = accept('web', 'WEB-SECRET');
    db.close();

    // Created while the daemon runs, through the real command; printed once.
    const created = await runCommand(AIRUT, ['token', 'create', '--name', 'team-api', '--repos', 'api', '--rights', 'read', '--config', cfg.configPath], {
      cwd: PROJECT_ROOT, env: { ...process.env, ...cfg.env },
    });
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.split('\n')[0]!;
    assert.match(token, /^airut_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stdout, /not shown again/);
    const dup = run(['create', '--name', 'team-api', '--repos', 'web', '--rights', 'read']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /a token named "team-api" already exists/);

    const base = `http://127.0.0.1:${port}`;
    const get = (p: string, t: string) => fetch(base + p, { headers: { authorization: `Bearer ${t}`, accept: 'application/json' } });
    const list = (await (await get('/api/tasks', token)).json()) as { tasks: Array<{ id: number; repoId: string }> };
    assert.deepEqual(list.tasks.map((t) => t.id), [apiTask]);
    assert.equal((await get(`/api/tasks/${webTask}`, token)).status, 404);
    assert.equal((await get(`/api/tasks/${apiTask}`, token)).status, 200);
    const stop = await fetch(`${base}/api/tasks/${apiTask}/stop`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
    assert.equal(stop.status, 403);
    assert.deepEqual(await stop.json(), { error: 'this token may only read' });

    const listed = run(['list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^NAME\s+REPOS\s+RIGHTS\s+CREATED\s+LAST USED\s+REVOKED$/m);
    assert.match(listed.stdout, /^team-api\s+api\s+read\s+\S+Z\s+\S+Z\s+-$/m, 'last used is recorded');
    assert.ok(!listed.stdout.includes(token), 'the token is never shown again');

    const revoked = run(['revoke', 'team-api']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await get('/api/tasks', token)).status, 401, 'refused at once by the running daemon');
    assert.equal((await get('/api/tasks', ADMIN)).status, 200);
    assert.match(run(['list']).stdout, /^team-api\s+api\s+read\s+\S+Z\s+\S+Z\s+\S+Z$/m);
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});
