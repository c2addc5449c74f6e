/**
 * Issue 17 item 5 end to end: the mail password exists only in the `.env` file beside the
 * configuration (or the file `--env-file` names), not in the process environment. `--check`,
 * `--check --online` and the daemon all read it, and none of them prints the value.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, startDaemon, writeTestConfig, type TestConfig } from '../harness/daemon-process.ts';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';

const PASSWORD = 'only-in-dotenv-9d2b';
let dovecot: DovecotServer;

before(async () => {
  dovecot = await startDovecot({ users: [{ user: 'bot', password: PASSWORD }] });
});

after(async () => {
  await dovecot?.stop();
});

/** The daemon's command line with only the base environment: the config's variables are NOT passed. */
function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

/** A config whose IMAP password is `!env`, and that variable written to `file` (mode 0600) only. */
function configWithEnvFile(file?: string): { cfg: TestConfig; envFile: string } {
  const cfg = writeTestConfig({ repos: [{ id: 'api', user: 'bot', password: PASSWORD, imapPort: dovecot.port }] });
  const envFile = file ?? path.join(cfg.dir, '.env');
  const lines = Object.entries(cfg.env).map(([k, v]) => `${k}=${v}\n`);
  fs.writeFileSync(envFile, `# secrets for ${cfg.configPath}\n${lines.join('')}`, { mode: 0o600 });
  return { cfg, envFile };
}

test('--check: a value only in the .env beside the configuration resolves; exit 0, the value not printed', { timeout: 60_000 }, async () => {
  const { cfg, envFile } = configWithEnvFile();
  const r = await runCli(['--check', '--config', cfg.configPath]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /configuration OK/);
  assert.ok(r.out.includes(`environment file ${envFile}: 1 variable (TEST_IMAP_PASSWORD_API)`), r.out);
  assert.ok(!r.out.includes(PASSWORD));

  fs.rmSync(envFile);
  const without = await runCli(['--check', '--config', cfg.configPath]);
  assert.equal(without.code, 1);
  assert.match(without.out, /environment variable TEST_IMAP_PASSWORD_API is not set/);
});

test('--check --env-file PATH reads that file; a missing one is a clear error', { timeout: 60_000 }, async () => {
  const { cfg, envFile } = configWithEnvFile(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'airut-envfile-')), 'secrets.env'));
  try {
    const r = await runCli(['--check', '--config', cfg.configPath, '--env-file', envFile]);
    assert.equal(r.code, 0, r.out);
    // Node itself checks a missing `--env-file` even after the script name (nodejs/node#54232) and
    // exits 9 with "node: PATH: not found" before our code runs; our own error covers every other
    // caller (test/config/env-file.test.ts). Either way: not 0, and the path is named.
    const missing = await runCli(['--check', '--config', cfg.configPath, '--env-file', `${envFile}.nope`]);
    assert.notEqual(missing.code, 0);
    assert.ok(missing.out.includes(`${envFile}.nope`) && /not found|does not exist/.test(missing.out), missing.out);
  } finally {
    fs.rmSync(path.dirname(envFile), { recursive: true, force: true });
  }
});

test('--check --online: the IMAP login uses the password from .env; the env file row is ok', { timeout: 120_000 }, async () => {
  const { cfg, envFile } = configWithEnvFile();
  const r = await runCli(['--check', '--online', '--timeout', '10', '--config', cfg.configPath], podmanTestEnv());
  assert.match(r.out, /^api: imap +ok /m, r.out);
  assert.ok(r.out.split('\n').some((l) => /^env file +ok /.test(l) && l.includes(envFile)), r.out);
  assert.ok(!r.out.includes(PASSWORD));
});

test('the daemon logs in with the password from .env, logs the file and the variable name, never the value; others-readable is warned', { timeout: 120_000 }, async () => {
  const { cfg, envFile } = configWithEnvFile();
  fs.chmodSync(envFile, 0o644);
  const daemon = startDaemon({ ...cfg, env: {} }, [], podmanTestEnv()); // the password deliberately not in its environment
  try {
    await daemon.waitForLog((l) => l.msg === 'IMAP connected' && l.repo === 'api', 60_000, 'the IMAP login');
    const read = daemon.logs.find((l) => l.msg === 'read the environment file for !env values');
    assert.equal(read?.path, envFile);
    assert.deepEqual(read?.variables, ['TEST_IMAP_PASSWORD_API']);
    assert.ok(daemon.logs.some((l) => l.level === 'warn' && /\(mode 0644\); run chmod 600/.test(l.msg)));
    assert.equal(await daemon.stop('SIGTERM', 60_000), 0);
    assert.ok(!JSON.stringify(daemon.logs).includes(PASSWORD) && !daemon.otherOutput.join('\n').includes(PASSWORD));
  } finally {
    if (daemon.child.exitCode === null) await daemon.stop('SIGKILL');
  }
});
