/**
 * The `airut` command as an operator runs it: bin/airut (through scripts/node), once through
 * `npx airut` from the project root. Each subcommand against real parts: a daemon started by the
 * harness, its database after it stopped, a stand-in process for the daemon that records SIGHUP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, startDaemon, waitUntil, writeTestConfig, type TestConfig } from '../harness/daemon-process.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { freePort } from '../harness/ports.ts';
import { queuedTask } from '../harness/queued-task.ts';
import { runCommand } from '../harness/run-command.ts';
import { openDatabase } from '../../src/store/database.ts';
import { processStartTime } from '../../src/cli/pid-file.ts';

const AIRUT = path.join(PROJECT_ROOT, 'bin', 'airut');
const SUBCOMMANDS = ['start', 'check', 'doctor', 'reload', 'status', 'token', 'submit', 'logs', 'init', 'install-service'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function airut(args: string[], env: Record<string, string> = {}, cwd = PROJECT_ROOT): Run {
  const r = spawnSync(AIRUT, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like airut(), without blocking this process (a stand-in it signals runs under this one). */
function airutAsync(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runCommand(AIRUT, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env } });
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'airut-command-'));
}

async function testConfig(global: Record<string, unknown> = {}): Promise<TestConfig> {
  return writeTestConfig({ repos: [{ id: 'api', user: 'bot', password: 'pw-1234', imapPort: await freePort() }], global });
}

test('usage: no command, an unknown command or option, a missing value: a clear error with the usage', () => {
  const none = airut([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /usage: airut <command>/);
  const unknown = airut(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"[\s\S]*usage: airut <command>/);
  const option = airut(['status', '--verbose']);
  assert.equal(option.code, 2);
  assert.match(option.stderr, /airut status: Unknown option '--verbose'[\s\S]*usage: airut status/);
  const missing = airut(['check', '--config']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--config <value>' argument missing[\s\S]*usage: airut check/);
  const extra = airut(['reload', 'now']);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /unexpected argument: now/);
});

test('--help: the command list, and every subcommand its own usage', () => {
  const all = airut(['--help']);
  assert.equal(all.code, 0);
  for (const name of SUBCOMMANDS) assert.match(all.stdout, new RegExp(`^  ${name} `, 'm'));
  for (const name of SUBCOMMANDS) {
    const r = airut([name, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: airut ${name}`), name);
  }
});

test('npx airut from the project root runs the same command', () => {
  const r = spawnSync('npx', ['airut', 'check', '--help'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NPM_CONFIG_UPDATE_NOTIFIER: 'false' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: airut check/);
});

test('init writes a starter configuration that passes check once its variables are set, and never overwrites', () => {
  const dir = tempDir();
  const file = path.join(dir, 'conf', 'airut.yaml');
  const r = airut(['init', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /EMAIL_PASSWORD_MY_REPO/);
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /^# /m, 'commented');

  const unset = airut(['check', '--config', file], { EMAIL_PASSWORD_MY_REPO: '', CLAUDE_CODE_OAUTH_TOKEN: '' });
  assert.equal(unset.code, 1);
  assert.match(unset.stderr, /repos\.my-repo\.email\.password/);
  const set = airut(['check', '--config', file], { EMAIL_PASSWORD_MY_REPO: 'pw-init-1', CLAUDE_CODE_OAUTH_TOKEN: 'tok-init-2' });
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /configuration OK[\s\S]*my-repo/);
  assert.ok(!set.stdout.includes('pw-init-1') && !set.stdout.includes('tok-init-2'), 'no secret printed');

  const again = airut(['init', file]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists; it was left as it is/);
  assert.equal(fs.readFileSync(file, 'utf8'), text);

  // Without a path: config/airut.yaml under the working directory.
  const cwd = tempDir();
  assert.equal(airut(['init'], {}, cwd).code, 0);
  assert.ok(fs.existsSync(path.join(cwd, 'config', 'airut.yaml')));
});

test('check: a bad configuration exits 1 naming the problem', () => {
  const r = airut(['check', '--config', path.join(tempDir(), 'missing.yaml')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing\.yaml/);
});

test('doctor: a bad --timeout is a clear error; a real run reports the unreachable mail server', { timeout: 120_000 }, async () => {
  const cfg = await testConfig();
  const bad = airut(['doctor', '--config', cfg.configPath, '--timeout', 'soon'], cfg.env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--timeout needs a positive number of seconds/);
  const r = airut(['doctor', '--config', cfg.configPath, '--timeout', '5'], { ...cfg.env, ...podmanTestEnv() });
  assert.equal(r.code, 1, 'the IMAP port is closed');
  assert.match(r.stdout, /configuration OK/);
  assert.match(r.stdout, /FAIL/);
  assert.ok(!r.stdout.includes('pw-1234'), 'no password printed');
});

test('install-service: the unit for this install, the systemctl steps; --output refuses to overwrite', () => {
  const r = airut(['install-service', '--config', '/etc/airut/airut.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^ExecStart=${AIRUT} start$`, 'm'));
  assert.match(r.stdout, new RegExp(`^WorkingDirectory=${PROJECT_ROOT}$`, 'm'));
  assert.match(r.stdout, /^Environment=AIRUT_CONFIG=\/etc\/airut\/airut\.yaml$/m);
  assert.match(r.stdout, /^KillMode=mixed$/m);
  if (process.getuid?.() !== 0) assert.match(r.stdout, new RegExp(`^User=${os.userInfo().username}$`, 'm'));
  assert.ok(!r.stdout.includes('/opt/airut-ts'), 'no template path left');
  assert.match(r.stderr, /systemctl daemon-reload[\s\S]*systemctl enable --now airut/);

  const out = path.join(tempDir(), 'airut.service');
  const written = airut(['install-service', '--output', out]);
  assert.equal(written.code, 0, written.stderr);
  assert.match(written.stdout, /systemctl enable --now airut/);
  assert.match(fs.readFileSync(out, 'utf8'), /^\[Service\]$/m);
  const again = airut(['install-service', '--output', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists/);
});

test('start runs the daemon with a pid file beside the database; SIGTERM stops it and removes the file', { timeout: 90_000 }, async () => {
  const cfg = await testConfig();
  const pidFile = path.join(cfg.dir, 'airut.pid');
  // Left by a daemon that was killed: no such process (above any pid_max), so the start replaces it.
  fs.writeFileSync(pidFile, '999999999\n\n');
  const child = spawn(AIRUT, ['start', '--config', cfg.configPath], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...cfg.env, ...podmanTestEnv() },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? '?')));
  try {
    await waitUntil(() => fs.readFileSync(pidFile, 'utf8').startsWith(`${child.pid}\n`), 60_000, 'the pid file');
    const [pid] = fs.readFileSync(pidFile, 'utf8').split('\n');
    // bin/airut and scripts/node exec: the daemon is the process that was started.
    assert.equal(Number(pid), child.pid);
    // A second daemon on the same database is refused.
    const second = airut(['start', '--config', cfg.configPath], { ...cfg.env, ...podmanTestEnv() });
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`another airut-ts \\(pid ${child.pid}\\) is running`));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.equal(fs.existsSync(pidFile), false, 'pid file removed on a clean exit');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

test('status: from the running daemon\'s dashboard (with its token), then from the stopped daemon\'s database', { timeout: 90_000 }, async () => {
  const token = 'a'.repeat(40);
  const cfg = await testConfig({ dashboard: { enabled: true, host: '127.0.0.1', port: await freePort(), auth_token: token } });
  const daemon = startDaemon(cfg, [], podmanTestEnv());
  try {
    await daemon.waitForLog((l) => l.msg === 'pid file written', 60_000);
    const live = await airutAsync(['status', '--config', cfg.configPath], cfg.env);
    assert.equal(live.code, 0, live.stderr);
    assert.match(live.stdout, /^source: the running daemon's dashboard at http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(live.stdout, new RegExp(`^daemon: running \\(pid ${daemon.child.pid}\\)$`, 'm'));
    assert.match(live.stdout, /^api\s+\S+\s+0\s+0/m);
    assert.match(live.stdout, /no running or queued tasks/);
    assert.ok(!live.stdout.includes(token), 'token not printed');
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
  // A task that waits for the next start: status shows it from the database.
  const db = openDatabase(cfg.dbPath);
  const taskId = queuedTask(db);
  db.close();
  const stopped = airut(['status', '--config', cfg.configPath], cfg.env);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /^source: the database .*airut\.db, read-only \(the dashboard did not answer: .+\)$/m);
  assert.match(stopped.stdout, /^daemon: not running \(no pid file .*airut\.pid\)$/m);
  assert.match(stopped.stdout, /^api\s+stopped\s+0\s+1/m);
  assert.match(stopped.stdout, new RegExp(`^${taskId}\\s+api\\s+queued\\s+s$`, 'm'));
});

test('reload: SIGHUP to the process the pid file names; no pid file and stale ones are errors', { timeout: 60_000 }, async () => {
  const cfg = await testConfig();
  const pidFile = path.join(cfg.dir, 'airut.pid');
  const none = airut(['reload', '--config', cfg.configPath], cfg.env);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no daemon to reload: there is no pid file .*airut\.pid/);

  // A pid that has exited.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  fs.writeFileSync(pidFile, `${gone.stdout}\n\n`);
  const dead = airut(['reload', '--config', cfg.configPath], cfg.env);
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, new RegExp(`stale \\(process ${gone.stdout} is not running\\)`));

  // A live pid whose start time is not the recorded one: the pid was reused by another program.
  fs.writeFileSync(pidFile, `${process.pid}\n1\n`);
  const reused = airut(['reload', '--config', cfg.configPath], cfg.env);
  assert.equal(reused.code, 1);
  assert.match(reused.stderr, /another program that got the same pid later/);

  // The daemon's stand-in: records SIGHUP and exits.
  const standIn = spawn(process.execPath, ['-e', "process.on('SIGHUP', () => { console.log('SIGHUP'); process.exit(0); }); console.log('ready'); setInterval(() => {}, 1000);"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  standIn.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => standIn.once('exit', (code) => resolve(code)));
  try {
    await waitUntil(() => out.includes('ready'), 30_000, 'the stand-in');
    fs.writeFileSync(pidFile, `${standIn.pid}\n${processStartTime(standIn.pid!) ?? ''}\n`);
    const r = await airutAsync(['reload', '--config', cfg.configPath], cfg.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`sent SIGHUP to airut-ts \\(pid ${standIn.pid}`));
    assert.equal(await exited, 0);
    assert.match(out, /SIGHUP/);
  } finally {
    if (standIn.exitCode === null) standIn.kill('SIGKILL');
  }
});
