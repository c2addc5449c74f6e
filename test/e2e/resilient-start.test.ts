/**
 * Issue 17 item 3, resilient start end to end: the real daemon, Dovecot, SMTP capture, podman and
 * the Claude Code CLI against the mock API. Two repositories, the second one's `!env` password
 * variable missing. Without `--resilient` the daemon refuses to start and names the variable;
 * with it, the good repository takes mail and replies, /health lists the broken one as failed
 * and the Repositories page with the variable named, and once the variable is in the .env beside the configuration, a
 * SIGHUP starts it and it takes mail. A storage directory that cannot be created never stopped the
 * start: the daemon starts without the flag and /health names the directory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../harness/ports.ts';
import { spawn, spawnSync } from 'node:child_process';
import { PROJECT_ROOT, startDaemon, waitUntil, writeTestConfig, type TestConfig } from '../harness/daemon-process.ts';
import { repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';

const MISSING = 'TEST_IMAP_PASSWORD_BROKEN';
let env: E2eEnv;

before(async () => {
  env = await startE2eEnv({ repoIds: ['good', 'broken'] });
});

after(async () => {
  await env?.stop();
});

async function health(port: number): Promise<{ status: number; body: { status: string; problems?: Array<{ component: string; message: string }> } }> {
  const r = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: r.status, body: (await r.json()) as never };
}

/** What env.daemonWith writes, with the dashboard on `port`. */
function globalWithDashboard(port: number): Record<string, unknown> {
  return {
    container_command: env.runtime.command,
    container_network: 'host',
    execution: { max_concurrent: 2, shutdown_timeout: 5 },
    dashboard: { enabled: true, host: '127.0.0.1', port },
  };
}

async function reposPage(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/repos`, { headers: { accept: 'text/html' } })).text();
}

test('a repository whose !env variable is missing: strict start exits 1 naming it; --resilient runs the other, lists it as failed, and starts it after the .env file provides the variable and a SIGHUP', { timeout: 300_000 }, async () => {
  const good = await env.repo('good', repoYaml());
  const broken = await env.repo('broken', repoYaml());
  const port = await freePort();
  const cfg = writeTestConfig({
    repos: [good, broken],
    global: globalWithDashboard(port),
  });
  const { [MISSING]: brokenPassword, ...withoutBroken } = cfg.env;
  assert.ok(brokenPassword);
  const cfgMissing = { ...cfg, env: withoutBroken };

  // 1. Without the flag: strict, as before.
  const strict = startDaemon(cfgMissing, [], env.podmanEnv);
  assert.equal(await strict.exited, 1);
  assert.ok(strict.otherOutput.join('\n').includes(`repos.broken.email.password: environment variable ${MISSING} is not set`), strict.otherOutput.join('\n'));

  // 2. With --resilient: the good repository runs and replies.
  const daemon = startDaemon(cfgMissing, ['--resilient'], env.podmanEnv);
  try {
    const left = await daemon.waitForLog((l) => l.msg === 'repository left out: its configuration is invalid; fix it and reload', 60_000, 'the broken repository to be left out');
    assert.equal(left.repo, 'broken');
    const m1 = await env.send('good', 'Hello good', 'reply with anything');
    const reply = await env.finalReplyTo(m1);
    assert.match(reply.subject ?? '', /Hello good/);

    const h = await health(port);
    assert.equal(h.status, 503);
    assert.equal(h.body.status, 'degraded');
    const problem = h.body.problems?.find((p) => p.component === 'repo:broken');
    assert.ok(problem, JSON.stringify(h.body));
    assert.match(problem.message, new RegExp(`repository broken failed to start: repos\\.broken\\.email\\.password: environment variable ${MISSING} is not set`));
    const page = await reposPage(port);
    assert.match(page, /data-repo="broken" data-failed="true"/);
    assert.ok(page.includes(`environment variable ${MISSING} is not set`), page);

    // 3. The variable in the .env beside the configuration, then SIGHUP: the repository starts and takes mail.
    fs.writeFileSync(path.join(cfg.dir, '.env'), `${MISSING}=${brokenPassword}\n`, { mode: 0o600 });
    daemon.child.kill('SIGHUP');
    await daemon.waitForLog((l) => l.msg === 'configuration reloaded', 30_000, 'the reload');
    const m2 = await env.send('broken', 'Hello broken', 'reply with anything');
    await waitUntil(() => {
      const t = taskFor(cfg, m2);
      return t !== undefined && t.status !== 'rejected';
    }, 60_000, 'the fixed repository to accept mail');
    await env.finalReplyTo(m2);
    const healed = await health(port);
    assert.ok(!healed.body.problems?.some((p) => p.component === 'repo:broken'), JSON.stringify(healed.body));
    assert.doesNotMatch(await reposPage(port), /data-failed/);
    assert.equal(await daemon.stop('SIGTERM', 60_000), 0);
  } finally {
    if (daemon.child.exitCode === null) await daemon.stop('SIGKILL');
  }
});

test('a storage directory that cannot be created stops only its repository, with or without the flag: the daemon starts, the other repository takes mail, /health names the directory', { timeout: 300_000 }, async () => {
  const good = await env.repo('good', repoYaml());
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-resilient-'));
  // A regular file where a parent directory should be: the storage directory can never be created (no root needed).
  fs.writeFileSync(path.join(dir, 'blocker'), 'not a directory\n');
  const blocked = path.join(dir, 'blocker', 'storage');
  const broken = await env.repo('broken', repoYaml(), { extra: { storage_dir: blocked } });
  const cfg = writeTestConfig({
    dir,
    repos: [good, broken],
    global: globalWithDashboard(port),
  });
  const daemon = startDaemon(cfg, [], env.podmanEnv);
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'the start');
    const problem = await waitUntil(async () => (await health(port)).body.problems?.find((p) => p.component === 'storage:broken'), 30_000, '/health to name the storage directory');
    assert.ok(problem.message.includes(blocked), problem.message);
    const m1 = await env.send('good', 'Hello good', 'reply with anything');
    await env.finalReplyTo(m1);
    assert.equal(await daemon.stop('SIGTERM', 60_000), 0);
  } finally {
    if (daemon.child.exitCode === null) await daemon.stop('SIGKILL');
  }
});

/** Two repositories on a closed IMAP port (no mail needed here), the second one's password variable missing. */
async function twoReposOneMissing(): Promise<{ cfg: TestConfig; env: Record<string, string> }> {
  const imapPort = await freePort();
  const cfg = writeTestConfig({
    repos: [
      { id: 'good', user: 'good-bot', password: 'pw-good', imapPort },
      { id: 'broken', user: 'broken-bot', password: 'pw-broken', imapPort },
    ],
  });
  const { [MISSING]: _unused, ...rest } = cfg.env;
  return { cfg: { ...cfg, env: rest }, env: rest };
}

test('airut start and npm start take --resilient; airut start without it exits 1 naming the variable', { timeout: 180_000 }, async () => {
  const { cfg, env: vars } = await twoReposOneMissing();
  const airut = path.join(PROJECT_ROOT, 'bin', 'airut');
  const strict = spawnSync(airut, ['start', '--config', cfg.configPath], { cwd: PROJECT_ROOT, env: { ...process.env, ...vars, ...env.podmanEnv }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(strict.status, 1);
  assert.ok(strict.stderr.includes(`repos.broken.email.password: environment variable ${MISSING} is not set`), strict.stderr);

  const child = spawn(airut, ['start', '--resilient', '--config', cfg.configPath], { cwd: PROJECT_ROOT, env: { ...process.env, ...vars, ...env.podmanEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? '?')));
  try {
    await waitUntil(() => out.includes('"msg":"airut-ts is running"') && out.includes('"msg":"repository left out: its configuration is invalid; fix it and reload"'), 60_000, 'airut start --resilient to run');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  const viaNpm = startDaemon(cfg, ['--resilient'], env.podmanEnv, { viaNpm: true });
  try {
    const left = await viaNpm.waitForLog((l) => l.msg === 'repository left out: its configuration is invalid; fix it and reload', 60_000, 'npm start -- --resilient to leave the repository out');
    assert.equal(left.repo, 'broken');
    await viaNpm.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'the start');
    assert.equal(await viaNpm.stop('SIGTERM', 60_000), 0);
  } finally {
    if (viaNpm.child.exitCode === null) await viaNpm.stop('SIGKILL');
  }
});
