/** The command line as an operator uses it: `npm start -- --check` and start-up with a broken config. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, writeTestConfig } from '../harness/daemon-process.ts';
import { startDovecot } from '../harness/dovecot.ts';
import { runCommand } from '../harness/run-command.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { freePort } from '../harness/ports.ts';
import { startSmtpCapture } from '../harness/smtp-capture.ts';
import { startOAuthServer } from '../harness/oauth-server.ts';
import { startTlsMailServers } from '../mail-account/tls-servers.ts';

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
  return runCommand(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env } });
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

// A Microsoft 365-style repository (microsoft_oauth2, IMAPS and SMTP on 465 with tls.ca_file) and
// one whose server's CA is not configured: the OAuth2 rows say a token was obtained and never show
// it or the client secret; the unknown CA is a FAIL row naming tls.ca_file.
test('--check --online: OAuth2 over TLS with ca_file is ok without showing the token; an unknown CA is a FAIL naming tls.ca_file', { timeout: 120_000 }, async () => {
  const secret = 'm365-client-secret-5150';
  const oauth = await startOAuthServer();
  oauth.addClient({ tenant: 'contoso-test', clientId: 'airut-app', clientSecret: secret, mailbox: 'bot' });
  const s = await startTlsMailServers({ users: [{ user: 'bot', password: 'unused-pw' }, { user: 'lab', password: 'lab-pw-1234' }], introspectionUrl: oauth.introspectionUrl });
  try {
    const smtp = await s.capture({ tls: s.ca.serverOptions('127.0.0.1'), secure: true, oauth2: oauth });
    const common = { imap_server: '127.0.0.1', imap_port: s.dovecot.tlsPort, imap_security: 'tls', smtp_server: '127.0.0.1', smtp_port: smtp.port, smtp_security: 'tls', username: 'bot' };
    const cfg = writeTestConfig({
      repos: [
        {
          id: 'm365',
          user: 'bot',
          password: secret,
          imapPort: 1,
          extra: {
            email: {
              ...common,
              from: 'Bot <bot@repos.test>',
              tls: { ca_file: s.ca.caPath },
              // The client secret comes from the variable writeTestConfig made for this repo's password.
              microsoft_oauth2: { tenant_id: 'contoso-test', client_id: 'airut-app', client_secret: '__ENV__TEST_IMAP_PASSWORD_M365', token_url: oauth.microsoftTokenUrl('contoso-test') },
            },
          },
        },
        {
          id: 'lab',
          user: 'lab',
          password: 'lab-pw-1234',
          imapPort: 1,
          extra: { email: { ...common, username: 'lab', from: 'Lab <lab@repos.test>', password: '__ENV__TEST_IMAP_PASSWORD_LAB' } },
        },
      ],
    });
    const r = await runCliAsync(['--check', '--online', '--timeout', '10', '--config', cfg.configPath], { ...cfg.env, ...podmanTestEnv() });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /m365: imap/, r.stdout + r.stderr);
    const lines = r.stdout.split('\n');
    const row = (name: string): [string, string] => {
      const i = lines.findIndex((l) => l.startsWith(`${name} `));
      assert.ok(i >= 0, `row ${name} in:\n${r.stdout}`);
      return [lines[i]!, lines[i + 1] ?? ''];
    };
    for (const name of ['m365: imap', 'm365: smtp']) {
      const [line] = row(name);
      assert.match(line, /ok +bot@127\.0\.0\.1:\d+\/tls: logged in with microsoft_oauth2: token obtained, valid for \d+ min, over implicit TLS, certificate checked against the system CAs and tls\.ca_file/, line);
    }
    const [lab, labFix] = row('lab: imap');
    assert.match(lab, /FAIL +the IMAP server 127\.0\.0\.1:\d+ presented a certificate signed by a CA this machine does not trust/);
    assert.match(labFix, /fix: if the server uses a private or company CA, set repos\.lab\.email\.tls\.ca_file/);
    assert.match(row('lab: smtp')[0], /FAIL +the SMTP server/);
    const all = r.stdout + r.stderr;
    assert.ok(!all.includes(secret), 'client secret printed');
    assert.doesNotMatch(all, /at-[A-Za-z0-9_-]{16,}/, 'access token printed');
    assert.equal(smtp.messages.length, 0);
  } finally {
    await s.stop();
    await oauth.close();
  }
});
