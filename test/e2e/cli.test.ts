/** The command line as an operator uses it: `npm start -- --check` and start-up with a broken config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, writeTestConfig } from '../harness/daemon-process.ts';
import { startDovecot } from '../harness/dovecot.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { freePort } from '../harness/ports.ts';
import { startSmtpCapture } from '../harness/smtp-capture.ts';

function runCli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like runCli, but without blocking this process: the SMTP capture server the CLI talks to runs in it. */
function runCliAsync(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const EXAMPLE_ENV = {
  EMAIL_PASSWORD_AIRUT: 'pw-airut-123',
  EMAIL_PASSWORD_OTHER: 'pw-other-456',
  CLAUDE_CODE_OAUTH_TOKEN: 'oauth-token-789',
  GH_TOKEN_AIRUT: 'gh-airut',
  GH_TOKEN_OTHER: 'gh-other',
  R2_ACCESS_KEY_ID: 'r2-key',
  NPM_TOKEN_AIRUT: 'npm-token',
  AWS_ACCESS_KEY_ID_AIRUT: 'aws-id',
  AWS_SECRET_ACCESS_KEY_AIRUT: 'aws-secret',
  M365_CLIENT_SECRET: 'm365-client-secret',
  GOOGLE_CLIENT_SECRET: 'google-client-secret',
  GOOGLE_REFRESH_TOKEN: 'google-refresh-token',
};

test('--check on the example config exits 0 with a summary and no secret', () => {
  const r = runCli(['--check', '--config', 'config/airut.example.yaml'], EXAMPLE_ENV);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /airut/);
  assert.match(r.stdout, /another-repo/);
  for (const v of Object.values(EXAMPLE_ENV)) assert.ok(!r.stdout.includes(v), `secret ${v} printed`);
});

test('a broken config: --check and a normal start both exit 1 naming every bad path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-cli-'));
  const file = path.join(dir, 'airut.yaml');
  fs.writeFileSync(
    file,
    `execution:
  max_concurrent: 0
repos:
  api:
    git: { repo_url: https://example.com/a.git }
    storage_dir: ${dir}/api
    email:
      imap_server: mail.example.com
      imap_port: 99999
      smtp_server: mail.example.com
      username: bot
      password: !env MISSING_PASSWORD_VAR
      from: "Bot <bot@example.com>"
    authorised_senders: [a@example.com]
    trusted_authserv_id: mail.example.com
`,
  );
  for (const args of [['--check', '--config', file], ['--config', file]]) {
    const r = runCli(args);
    assert.equal(r.code, 1, `exit code for ${args.join(' ')}`);
    assert.match(r.stderr, /execution\.max_concurrent:/);
    assert.match(r.stderr, /repos\.api\.email\.imap_port:/);
    assert.match(r.stderr, /repos\.api\.email\.password: environment variable MISSING_PASSWORD_VAR is not set/);
    assert.match(r.stderr, /repos\.api\.authorised_senders: unknown key \(did you mean authorized_senders\?\)/);
  }
});

test('a missing config file says which path and how to create one', () => {
  const r = runCli(['--config', '/nonexistent/airut.yaml']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/airut\.yaml/);
  assert.match(r.stderr, /airut\.example\.yaml/);
});

test('--check --online against working servers: a table of ok rows, exit 0, no password, no database created', { timeout: 120_000 }, async () => {
  const password = 'doctor-pass-4711';
  const dovecot = await startDovecot({ users: [{ user: 'bot', password }] });
  const smtp = await startSmtpCapture({ authUsers: { bot: password } });
  try {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-cli-git-'));
    execFileSync('git', ['init', '-q', '-b', 'main', src]);
    execFileSync('git', ['-C', src, '-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-q', '--allow-empty', '-m', 'first']);
    const cfg = writeTestConfig({
      repos: [{ id: 'api', user: 'bot', password, imapPort: dovecot.port, smtpPort: smtp.port, repoUrl: `file://${src}` }],
    });
    const r = await runCliAsync(['--check', '--online', '--config', cfg.configPath], { ...cfg.env, ...podmanTestEnv() });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^check +status +result \/ what to fix$/m);
    for (const row of ['config', 'node', 'podman', 'podman cgroups', 'claude binary', 'database', 'api: imap', 'api: dmarc headers', 'api: smtp', 'api: git remote', 'api: storage']) {
      assert.match(r.stdout, new RegExp(`^${row} +(ok|warn) `, 'm'), `row ${row} in:\n${r.stdout}`);
    }
    assert.match(r.stdout, /^database +ok +.*will be created on first start$/m);
    assert.equal(fs.existsSync(cfg.dbPath), false, 'the doctor must not create the database');
    assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), 'password printed');
    assert.equal(smtp.messages.length, 0);
  } finally {
    await smtp.stop();
    await dovecot.stop();
  }
});

test('--check --online with a wrong password, a closed SMTP port and a bad git remote: FAIL rows with fixes, exit 1', { timeout: 120_000 }, async () => {
  const password = 'doctor-pass-4711';
  const wrong = 'not-the-password-0815';
  const dovecot = await startDovecot({ users: [{ user: 'bot', password }] });
  try {
    const cfg = writeTestConfig({
      repos: [{ id: 'api', user: 'bot', password: wrong, imapPort: dovecot.port, smtpPort: await freePort(), repoUrl: 'file:///nonexistent/api.git' }],
    });
    const r = await runCliAsync(['--check', '--online', '--timeout', '5', '--config', cfg.configPath], { ...cfg.env, ...podmanTestEnv() });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    const rowWithFix = (name: string): [string, string] => {
      const i = lines.findIndex((l) => l.startsWith(`${name} `));
      assert.ok(i >= 0, `row ${name} in:\n${r.stdout}`);
      return [lines[i]!, lines[i + 1]!];
    };
    const [imap, imapFix] = rowWithFix('api: imap');
    assert.match(imap, /FAIL +login refused/);
    assert.match(imapFix, /^ +fix: check repos\.api\.email\.username and repos\.api\.email\.password/);
    const [smtpRow, smtpFix] = rowWithFix('api: smtp');
    assert.match(smtpRow, /FAIL +connection refused by 127\.0\.0\.1:\d+/);
    assert.match(smtpFix, /fix: .*smtp_port/);
    const [gitRow, gitFix] = rowWithFix('api: git remote');
    assert.match(gitRow, /FAIL/);
    assert.match(gitFix, /fix: .*repos\.api\.git\.repo_url/);
    assert.match(r.stdout, /3 FAIL.*: fix the FAIL rows and run the doctor again/);
    assert.ok(!r.stdout.includes(wrong) && !r.stderr.includes(wrong), 'password printed');
  } finally {
    await dovecot.stop();
  }
});

test('--online needs --check, and --help explains both', () => {
  const alone = runCli(['--online', '--config', 'config/airut.example.yaml']);
  assert.equal(alone.code, 1);
  assert.match(alone.stderr, /--online goes with --check/);
  const help = runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--check --online/);
  assert.match(help.stdout, /--timeout SECONDS/);
});
