/**
 * `npm start -- --check --online` as an operator runs it, for a Microsoft 365-style repository
 * (microsoft_oauth2, IMAPS and SMTP on 465 with tls.ca_file) and a repository whose server's CA is
 * not configured: the OAuth2 rows say a token was obtained and never show it or the client secret;
 * the unknown CA is a FAIL row naming tls.ca_file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PROJECT_ROOT, writeTestConfig } from '../harness/daemon-process.ts';
import { startOAuthServer } from '../harness/oauth-server.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { startTlsMailServers } from '../mail-account/tls-servers.ts';

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
    const r = await runCli(['--check', '--online', '--timeout', '10', '--config', cfg.configPath], { ...cfg.env, ...podmanTestEnv() });
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
