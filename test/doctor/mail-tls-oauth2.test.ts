/**
 * The doctor's IMAP and SMTP rows over TLS and with OAuth2 logins, against the real Dovecot (TLS
 * from a per-run test CA, its oauth2 passdb asking the local token server), the SMTP capture (465
 * and 587 kinds, XOAUTH2) and the token server standing in for Microsoft's and Google's token
 * endpoints. Each configuration is loaded from a config file, as `--check --online` does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadServerConfig } from '../../src/config/load.ts';
import type { RepoServerConfig } from '../../src/config/types.ts';
import { imapCheck } from '../../src/doctor/imap.ts';
import { runCheck } from '../../src/doctor/run-checks.ts';
import { smtpCheck } from '../../src/doctor/smtp.ts';
import type { CheckResult } from '../../src/doctor/types.ts';
import { writeTestConfig } from '../harness/daemon-process.ts';
import { startOAuthServer, type OAuthServer } from '../harness/oauth-server.ts';
import { startTlsMailServers, type TlsMailServers } from '../mail-account/tls-servers.ts';

const PASSWORD = 'doctor-tls-Pa55';
const SECRET = 'client-secret-7f3a';
const TENANT = 'contoso-test';
const TIMEOUT_MS = 10_000;
/** What an access token from the harness token server looks like. */
const TOKEN = /at-[A-Za-z0-9_-]{16,}/;

let s: TlsMailServers;
let oauth: OAuthServer;

before(async () => {
  oauth = await startOAuthServer();
  const users = ['bot', 'other'].map((user) => ({ user, password: PASSWORD }));
  s = await startTlsMailServers({ users, introspectionUrl: oauth.introspectionUrl, captureDefaults: { authUsers: { bot: PASSWORD } } });
});
after(async () => {
  await s?.stop();
  await oauth?.close();
});

/** A repository loaded from a config file whose `email` section is `email` (secrets through !env). */
function repoConfig(email: Record<string, unknown>): RepoServerConfig {
  const base = { imap_server: '127.0.0.1', imap_port: 1, imap_security: 'none', smtp_server: '127.0.0.1', smtp_port: 1, smtp_security: 'none' };
  const login = 'microsoft_oauth2' in email || 'oauth2' in email ? {} : { password: '__ENV__TEST_IMAP_PASSWORD_API' };
  const cfg = writeTestConfig({
    repos: [{ id: 'api', user: 'bot', password: PASSWORD, imapPort: 1, extra: { email: { ...base, username: 'bot', from: 'Bot <bot@repos.test>', ...login, ...email } } }],
  });
  return loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env, TEST_CLIENT_SECRET: SECRET }).repos.api!;
}

const row = async (check: ReturnType<typeof imapCheck>): Promise<CheckResult> => (await runCheck(check, TIMEOUT_MS))[0]!;
const withCa = () => ({ tls: { ca_file: s.ca.caPath } });

describe('IMAP rows over TLS', () => {
  it('IMAPS and STARTTLS with ca_file: ok, saying how the connection was secured and whose certificate it was', async () => {
    const imaps = await row(imapCheck(repoConfig({ imap_port: s.dovecot.tlsPort, imap_security: 'tls', ...withCa() })));
    assert.equal(imaps.status, 'ok', imaps.detail);
    assert.match(imaps.detail, /logged in with password, over implicit TLS, certificate checked against the system CAs and tls\.ca_file \S+ca\.pem; certificate for 127\.0\.0\.1 from airut test mail CA, valid until \d{4}-\d\d-\d\d/);
    const starttls = await row(imapCheck(repoConfig({ imap_port: s.dovecot.port, imap_security: 'starttls', ...withCa() })));
    assert.equal(starttls.status, 'ok', starttls.detail);
    assert.match(starttls.detail, /over STARTTLS, certificate checked/);
  });

  it('an unknown CA, a wrong host name, a server without STARTTLS: FAIL with the fix', async () => {
    const unknown = await row(imapCheck(repoConfig({ imap_port: s.dovecot.tlsPort, imap_security: 'tls', tls: { ca_file: s.unknownCa.caPath } })));
    assert.equal(unknown.status, 'FAIL');
    assert.match(unknown.detail, /IMAP server 127\.0\.0\.1:\d+ presented a certificate signed by a CA this machine does not trust/);
    assert.match(unknown.fix, /set repos\.api\.email\.tls\.ca_file/);

    const wrong = await row(imapCheck(repoConfig({ imap_port: s.wrongHost.tlsPort, imap_security: 'tls', ...withCa() })));
    assert.equal(wrong.status, 'FAIL');
    assert.match(wrong.detail, /is for wrong-host\.test, not for 127\.0\.0\.1/);
    assert.match(wrong.fix, /set repos\.api\.email\.imap_server to a name the certificate is issued for \(wrong-host\.test\)/);

    const noStarttls = await row(imapCheck(repoConfig({ imap_port: s.plainOnly.port, imap_security: 'starttls', ...withCa() })));
    assert.equal(noStarttls.status, 'FAIL');
    assert.match(noStarttls.detail, /does not offer STARTTLS/);
    assert.match(noStarttls.fix, /use repos\.api\.email\.imap_security: tls with the server's TLS port \(usually 993\)/);
    assert.equal(s.plainOnly.logTail(500).includes('Login: user=<bot>'), false);
  });

  it('insecure_skip_verify: logs in, but the row is a warning naming ca_file', async () => {
    const r = await row(imapCheck(repoConfig({ imap_port: s.dovecot.tlsPort, imap_security: 'tls', tls: { insecure_skip_verify: true } })));
    assert.equal(r.status, 'warn');
    assert.match(r.detail, /logged in with password, over implicit TLS, certificate NOT checked \(tls\.insecure_skip_verify\)/);
    assert.match(r.fix, /set repos\.api\.email\.tls\.ca_file/);
  });
});

describe('SMTP rows over TLS', () => {
  it('465 and 587 kinds with ca_file: ok; unknown CA, wrong host, hidden STARTTLS: FAIL; nothing sent', async () => {
    const implicit = await s.capture({ tls: s.ca.serverOptions('127.0.0.1'), secure: true });
    const ok465 = await row(smtpCheck(repoConfig({ smtp_port: implicit.port, smtp_security: 'tls', ...withCa() })));
    assert.equal(ok465.status, 'ok', ok465.detail);
    assert.match(ok465.detail, /logged in with password, over implicit TLS, certificate checked against the system CAs and tls\.ca_file/);

    const starttls = await s.capture({ tls: s.ca.serverOptions('127.0.0.1') });
    const ok587 = await row(smtpCheck(repoConfig({ smtp_port: starttls.port, smtp_security: 'starttls', ...withCa() })));
    assert.equal(ok587.status, 'ok', ok587.detail);
    assert.match(ok587.detail, /over STARTTLS/);

    const unknown = await row(smtpCheck(repoConfig({ smtp_port: implicit.port, smtp_security: 'tls' })));
    assert.equal(unknown.status, 'FAIL');
    assert.match(unknown.detail, /SMTP server 127\.0\.0\.1:\d+ presented a certificate signed by a CA this machine does not trust/);
    assert.match(unknown.fix, /repos\.api\.email\.tls\.ca_file/);

    const wrongCapture = await s.capture({ tls: s.ca.serverOptions('wrong-host.test'), secure: true });
    const wrong = await row(smtpCheck(repoConfig({ smtp_port: wrongCapture.port, smtp_security: 'tls', ...withCa() })));
    assert.equal(wrong.status, 'FAIL');
    assert.match(wrong.detail, /is for wrong-host\.test/);
    assert.match(wrong.fix, /smtp_server/);

    const hidden = await s.capture({ tls: s.ca.serverOptions('127.0.0.1'), hideStartTls: true });
    const noStarttls = await row(smtpCheck(repoConfig({ smtp_port: hidden.port, smtp_security: 'starttls', ...withCa() })));
    assert.equal(noStarttls.status, 'FAIL');
    assert.match(noStarttls.detail, /does not offer STARTTLS/);
    assert.match(noStarttls.fix, /smtp_security: tls with the server's TLS port \(usually 465\)/);

    const insecure = await row(smtpCheck(repoConfig({ smtp_port: implicit.port, smtp_security: 'tls', tls: { insecure_skip_verify: true } })));
    assert.equal(insecure.status, 'warn');
    assert.equal([implicit, starttls, wrongCapture, hidden].reduce((n, c) => n + c.messages.length, 0), 0);
  });
});

describe('OAuth2 logins', () => {
  const microsoft = (over: Record<string, unknown> = {}) => ({
    microsoft_oauth2: { tenant_id: TENANT, client_id: 'ms-app', client_secret: '__ENV__TEST_CLIENT_SECRET', token_url: oauth.microsoftTokenUrl(TENANT), ...over },
  });
  const google = () => ({ oauth2: { token_url: oauth.tokenUrl, client_id: 'g-app', client_secret: '__ENV__TEST_CLIENT_SECRET', refresh_token: 'refresh-g-app' } });

  before(() => {
    oauth.addClient({ tenant: TENANT, clientId: 'ms-app', clientSecret: SECRET, mailbox: 'bot' });
    oauth.addClient({ clientId: 'g-app', clientSecret: SECRET, refreshToken: 'refresh-g-app', mailbox: 'bot' });
    oauth.addClient({ tenant: TENANT, clientId: 'ms-other', clientSecret: SECRET, mailbox: 'other' });
  });

  it('IMAP and SMTP log in with a token: the rows say so and how long it lives, never the token', async () => {
    const smtp = await s.capture({ tls: s.ca.serverOptions('127.0.0.1'), secure: true, oauth2: oauth });
    const tls = { imap_port: s.dovecot.tlsPort, imap_security: 'tls', smtp_port: smtp.port, smtp_security: 'tls', ...withCa() };
    for (const login of [microsoft(), google()]) {
      const config = repoConfig({ ...tls, ...login });
      const [imap] = await runCheck(imapCheck(config), TIMEOUT_MS);
      const smtpRow = await row(smtpCheck(config));
      const method = 'oauth2' in login ? 'oauth2' : 'microsoft_oauth2';
      for (const r of [imap!, smtpRow]) {
        assert.equal(r.status, 'ok', `${r.detail} ${r.fix}`);
        assert.match(r.detail, new RegExp(`logged in with ${method}: token obtained, valid for (59|60) min, over implicit TLS`));
        assert.doesNotMatch(`${r.detail} ${r.fix}`, TOKEN);
        assert.ok(!`${r.detail} ${r.fix}`.includes(SECRET));
      }
    }
    assert.ok(oauth.tokenRequests.some((r) => r.endpoint === 'microsoft' && r.status === 200));
    assert.match(s.dovecot.logTail(500), /Login: user=<bot>, method=(XOAUTH2|OAUTHBEARER)/);
  });

  it("the provider's refusal is a FAIL row with its message and the fix", async () => {
    const badSecret = repoConfig({ imap_port: s.dovecot.tlsPort, imap_security: 'tls', ...withCa(), ...microsoft({ client_secret: 'not-the-secret' }) });
    const r1 = await row(imapCheck(badSecret));
    assert.equal(r1.status, 'FAIL');
    assert.match(r1.detail, /^Microsoft 365 .*access token for client ms-app in tenant contoso-test.*invalid_client.*Invalid client secret provided/);
    assert.match(r1.fix, /check repos\.api\.email\.microsoft_oauth2\.client_id and repos\.api\.email\.microsoft_oauth2\.client_secret/);
    assert.ok(!`${r1.detail} ${r1.fix}`.includes('not-the-secret'));

    oauth.addClient({ clientId: 'g-revoked', clientSecret: SECRET, refreshToken: 'refresh-g-revoked', mailbox: 'bot' });
    oauth.revoke('g-revoked');
    const revoked = repoConfig({
      smtp_port: 1,
      oauth2: { token_url: oauth.tokenUrl, client_id: 'g-revoked', client_secret: '__ENV__TEST_CLIENT_SECRET', refresh_token: 'refresh-g-revoked' },
    });
    const r2 = await row(smtpCheck(revoked));
    assert.equal(r2.status, 'FAIL');
    assert.match(r2.detail, /invalid_grant.*Token has been expired or revoked/);
    assert.match(r2.fix, /grant access again and set repos\.api\.email\.oauth2\.refresh_token/);
  });

  it('a token the mailbox does not accept: FAIL naming the token, with the Exchange permission fix', async () => {
    // ms-other's tokens log in as "other", not as the configured "bot": Dovecot refuses them.
    const config = repoConfig({ imap_port: s.dovecot.tlsPort, imap_security: 'tls', ...withCa(), ...microsoft({ client_id: 'ms-other' }) });
    const r = await row(imapCheck(config));
    assert.equal(r.status, 'FAIL');
    assert.match(r.detail, /login refused by 127\.0\.0\.1:\d+: .*\(the access token was refused\)/);
    assert.match(r.fix, /service principal .*Add-MailboxPermission/);
  });
});
