/**
 * The local OAuth2 token server (Microsoft and Google shapes, introspection, failure controls), and OAuth2 logins
 * against the real Dovecot (oauth2 passdb asking the token server) and the SMTP capture (XOAUTH2), with imapflow and
 * nodemailer as the daemon uses them.
 */
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, beforeEach, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { startDovecot, type DovecotServer } from './dovecot.ts';
import { startOAuthServer, type OAuthServer } from './oauth-server.ts';
import { startSmtpCapture, type SmtpCapture } from './smtp-capture.ts';
import { createTestTls, type TestTls } from './test-tls.ts';

const MS = { tenant: 'contoso.onmicrosoft.com', clientId: 'ms-app', clientSecret: 'ms-secret', mailbox: 'ms@example.com' };
const GOOGLE = { clientId: 'g-app.apps.googleusercontent.com', clientSecret: 'g-secret', refreshToken: '1//g-refresh', mailbox: 'g@example.com' };
const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';

interface TokenAnswer {
  status: number;
  cacheControl: string | null;
  body: Record<string, unknown>;
}

async function post(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, cacheControl: res.headers.get('cache-control'), body: (await res.json()) as Record<string, unknown> };
}

const basic = (id: string, secret: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
});

function msToken(oauth: OAuthServer, overrides: Record<string, string> = {}, tenant = MS.tenant): Promise<TokenAnswer> {
  const form = { grant_type: 'client_credentials', client_id: MS.clientId, client_secret: MS.clientSecret, scope: EXCHANGE_SCOPE, ...overrides };
  return post(oauth.microsoftTokenUrl(tenant), form);
}

function googleToken(oauth: OAuthServer, overrides: Record<string, string> = {}): Promise<TokenAnswer> {
  const form = { grant_type: 'refresh_token', client_id: GOOGLE.clientId, client_secret: GOOGLE.clientSecret, refresh_token: GOOGLE.refreshToken, ...overrides };
  return post(oauth.tokenUrl, form);
}

describe('oauth token server', () => {
  let oauth: OAuthServer;
  beforeEach(async () => {
    await oauth?.close();
    oauth = await startOAuthServer();
    oauth.addClient(MS);
    oauth.addClient(GOOGLE);
  });
  after(async () => {
    await oauth?.close();
  });

  it('issues a Microsoft client-credentials token (form and Basic client auth) that introspects to the mailbox', async () => {
    const answer = await msToken(oauth);
    assert.equal(answer.status, 200);
    assert.equal(answer.cacheControl, 'no-store');
    assert.equal(answer.body['token_type'], 'Bearer');
    assert.equal(answer.body['expires_in'], 3600);
    const token = answer.body['access_token'] as string;
    assert.equal(oauth.checkToken(token), MS.mailbox);
    const info = await post(oauth.introspectionUrl, { token });
    assert.equal(info.body['active'], true);
    assert.equal(info.body['username'], MS.mailbox);
    assert.ok(typeof info.body['exp'] === 'number' && info.body['exp'] > Date.now() / 1000);

    const viaBasic = await post(oauth.microsoftTokenUrl(MS.tenant), { grant_type: 'client_credentials', scope: EXCHANGE_SCOPE }, basic(MS.clientId, MS.clientSecret));
    assert.equal(viaBasic.status, 200);
    assert.deepEqual(
      oauth.tokenRequests.map((r) => [r.endpoint, r.authMethod, r.status]),
      [
        ['microsoft', 'client_secret_post', 200],
        ['microsoft', 'client_secret_basic', 200],
      ],
    );
    assert.equal(oauth.tokenRequestCount(MS.clientId), 2);
  });

  it('answers Microsoft errors in their real shapes: wrong tenant, bad secret, unknown app, bad scope, disabled app', async () => {
    const tenant = await msToken(oauth, {}, 'wrong-tenant.example');
    assert.equal(tenant.status, 400);
    assert.equal(tenant.body['error'], 'invalid_request');
    assert.match(tenant.body['error_description'] as string, /^AADSTS90002: Tenant 'wrong-tenant\.example' not found\./);
    assert.deepEqual(tenant.body['error_codes'], [90002]);

    const secret = await msToken(oauth, { client_secret: 'nope' });
    assert.equal(secret.status, 401);
    assert.equal(secret.body['error'], 'invalid_client');
    assert.match(secret.body['error_description'] as string, /^AADSTS7000215: Invalid client secret provided\./);
    assert.doesNotMatch(JSON.stringify(secret.body), /nope/);

    const app = await msToken(oauth, { client_id: 'other-app' });
    assert.equal(app.body['error'], 'unauthorized_client');
    assert.match(app.body['error_description'] as string, /^AADSTS700016: /);

    const scope = await msToken(oauth, { scope: 'https://graph.microsoft.com/.default' });
    assert.equal(scope.body['error'], 'invalid_scope');

    oauth.revoke(MS.clientId);
    const disabled = await msToken(oauth);
    assert.equal(disabled.status, 400);
    assert.match(disabled.body['error_description'] as string, /^AADSTS7000112: /);
  });

  it('issues a Google refresh-token token, and answers invalid_grant once the grant is revoked', async () => {
    const ok = await googleToken(oauth);
    assert.equal(ok.status, 200);
    assert.equal(oauth.checkToken(ok.body['access_token'] as string), GOOGLE.mailbox);
    const viaBasic = await post(oauth.tokenUrl, { grant_type: 'refresh_token', refresh_token: GOOGLE.refreshToken }, basic(GOOGLE.clientId, GOOGLE.clientSecret));
    assert.equal(viaBasic.status, 200);

    const badSecret = await googleToken(oauth, { client_secret: 'nope' });
    assert.deepEqual([badSecret.status, badSecret.body['error']], [401, 'invalid_client']);
    const wrongRefresh = await googleToken(oauth, { refresh_token: 'other' });
    assert.deepEqual([wrongRefresh.status, wrongRefresh.body], [400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }]);

    oauth.revoke(GOOGLE.clientId);
    const revoked = await googleToken(oauth);
    assert.deepEqual([revoked.status, revoked.body], [400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }]);
    assert.equal(oauth.tokenRequestCount(GOOGLE.clientId), 5);
  });

  it('rejects malformed requests with an OAuth error: wrong grant type, missing refresh token, not a form, GET', async () => {
    assert.equal((await googleToken(oauth, { grant_type: 'password' })).body['error'], 'unsupported_grant_type');
    assert.equal((await msToken(oauth, { grant_type: 'refresh_token' })).body['error'], 'unsupported_grant_type');
    assert.equal((await googleToken(oauth, { refresh_token: '' })).body['error'], 'invalid_request');
    const json = await fetch(oauth.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 400);
    assert.equal(((await json.json()) as { error: string }).error, 'invalid_request');
    assert.equal((await fetch(oauth.tokenUrl)).status, 405);
    assert.equal((await fetch(`${oauth.url}/nowhere`, { method: 'POST' })).status, 404);
  });

  it('failNext, tokenLifetimeSeconds and expireAll control what clients get', async () => {
    oauth.failNext(2, { status: 503, body: { error: 'temporarily_unavailable' } });
    assert.equal((await googleToken(oauth)).status, 503);
    assert.equal((await msToken(oauth)).status, 503);
    oauth.tokenLifetimeSeconds = 60;
    const ok = await googleToken(oauth);
    assert.deepEqual([ok.status, ok.body['expires_in']], [200, 60]);
    const token = ok.body['access_token'] as string;
    oauth.expireAll();
    assert.equal(oauth.checkToken(token), null);
    assert.deepEqual((await post(oauth.introspectionUrl, { token })).body, { active: false });
    assert.deepEqual((await post(oauth.introspectionUrl, { token: 'made-up' })).body, { active: false });
    const fresh = await googleToken(oauth);
    assert.equal(oauth.checkToken(fresh.body['access_token'] as string), GOOGLE.mailbox);
  });

  it('waitForTokenRequest resolves on an answered request, also one made before the call', async () => {
    const pending = oauth.waitForTokenRequest((r) => r.clientId === MS.clientId);
    await msToken(oauth);
    assert.equal((await pending).status, 200);
    assert.equal((await oauth.waitForTokenRequest((r) => r.endpoint === 'microsoft')).clientId, MS.clientId);
    await assert.rejects(oauth.waitForTokenRequest((r) => r.clientId === 'never', 50), /no matching token request within 50 ms \(requests so far: microsoft ms-app 200\)/);
  });

  it('addClient refuses a client without id, secret, mailbox, or a tenant / refresh token', () => {
    assert.throws(() => oauth.addClient({ ...GOOGLE, clientId: '' }), /addClient needs a non-empty clientId/);
    assert.throws(() => oauth.addClient({ ...MS, clientSecret: '' }), /non-empty clientSecret/);
    assert.throws(() => oauth.addClient({ ...MS, mailbox: '' }), /non-empty mailbox/);
    assert.throws(() => oauth.addClient({ clientId: 'x', clientSecret: 'y', mailbox: 'z@example.com' }), /needs a tenant \(Microsoft\) or a refreshToken/);
  });
});

/** A raw IMAPS session that logs in with SASL XOAUTH2 (imapflow prefers OAUTHBEARER when both are offered). */
function xoauth2Login(port: number, ca: string, user: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: [ca] });
    const sasl = Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    let buffer = '';
    let sent = false;
    let answered = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (!sent && buffer.includes('\r\n')) {
        sent = true;
        socket.write(`a1 AUTHENTICATE XOAUTH2 ${sasl}\r\n`);
      }
      // A failed XOAUTH2 first gets a "+ <base64 error>" challenge; the empty answer ends the exchange.
      if (!answered && /^\+ /m.test(buffer)) {
        answered = true;
        socket.write('\r\n');
      }
      const tagged = /^a1 (OK|NO|BAD)[^\r\n]*/m.exec(buffer);
      if (tagged) {
        socket.end('a2 LOGOUT\r\n');
        resolve(tagged[0]);
      }
    });
    socket.once('error', reject);
  });
}

describe('oauth2 logins against real servers', () => {
  let oauth: OAuthServer;
  let ca: TestTls;
  let dovecot: DovecotServer;
  const captures: SmtpCapture[] = [];
  before(async () => {
    oauth = await startOAuthServer();
    oauth.addClient(MS);
    oauth.addClient(GOOGLE);
    ca = createTestTls('airut test mail CA');
    const users = [
      { user: MS.mailbox, password: 'unused-ms' },
      { user: GOOGLE.mailbox, password: 'unused-g' },
    ];
    dovecot = await startDovecot({ users, tls: { ...pemOf(ca) }, oauth2: { introspectionUrl: oauth.introspectionUrl } });
  });
  after(async () => {
    for (const c of captures) await c.stop();
    await dovecot?.stop();
    await oauth?.close();
    ca?.remove();
  });
  const pemOf = (t: TestTls): { certPem: string; keyPem: string } => {
    const pair = t.serverOptions('127.0.0.1');
    return { certPem: pair.cert, keyPem: pair.key };
  };
  const imapLogin = async (user: string, accessToken: string): Promise<void> => {
    const client = await dovecot.connect(user, { port: dovecot.tlsPort, secure: true, tls: { ca: [ca.caPem] }, auth: { user, accessToken } });
    await client.mailboxOpen('INBOX');
    await client.logout();
  };

  it('Dovecot accepts a live token (OAUTHBEARER via imapflow, XOAUTH2 raw) and refuses it after expireAll()', async () => {
    const token = (await msToken(oauth)).body['access_token'] as string;
    await imapLogin(MS.mailbox, token);
    assert.match(dovecot.logTail(), /Login: user=<ms@example\.com>, method=OAUTHBEARER/);
    assert.match(await xoauth2Login(dovecot.tlsPort!, ca.caPem, MS.mailbox, token), /^a1 OK/);
    assert.match(dovecot.logTail(), /Login: user=<ms@example\.com>, method=XOAUTH2/);
    assert.ok(oauth.introspectionCount >= 2);

    // A token for one mailbox does not open another.
    await assert.rejects(imapLogin(GOOGLE.mailbox, token), { authenticationFailed: true });
    oauth.expireAll();
    await assert.rejects(imapLogin(MS.mailbox, token), { authenticationFailed: true });
    assert.match(await xoauth2Login(dovecot.tlsPort!, ca.caPem, MS.mailbox, token), /^a1 NO/);
    // Password users keep working alongside (the harness helpers log in with passwords).
    assert.equal(await dovecot.countInbox(MS.mailbox), 0);
  });

  it('nodemailer delivers with XOAUTH2 over implicit TLS and over STARTTLS; a dead token is refused', async () => {
    const check = (user: string, token: string): boolean => oauth.checkToken(token) === user;
    const implicit = await startSmtpCapture({ tls: ca.serverOptions('127.0.0.1'), secure: true, oauth2: check });
    const starttls = await startSmtpCapture({ tls: ca.serverOptions('127.0.0.1'), oauth2: oauth });
    captures.push(implicit, starttls);
    const token = (await googleToken(oauth)).body['access_token'] as string;
    const send = (capture: SmtpCapture, secure: boolean, accessToken: string, subject: string, user = GOOGLE.mailbox) =>
      nodemailer
        .createTransport({ host: capture.host, port: capture.port, secure, requireTLS: !secure, tls: { ca: [ca.caPem] }, auth: { type: 'OAuth2', user, accessToken } })
        .sendMail({ from: user, to: 'alice@example.com', subject, text: 'hi' });

    await send(implicit, true, token, 'over 465');
    const first = await implicit.waitFor((m) => m.subject === 'over 465');
    assert.deepEqual([first.authMethod, first.authUser, first.secure], ['XOAUTH2', GOOGLE.mailbox, true]);
    await send(starttls, false, token, 'over 587');
    const second = await starttls.waitFor((m) => m.subject === 'over 587');
    assert.deepEqual([second.authMethod, second.secure], ['XOAUTH2', true]);

    // A live token issued for another mailbox does not log in.
    await assert.rejects(send(starttls, false, token, 'other user', MS.mailbox), { code: 'EAUTH', responseCode: 535 });
    oauth.expireAll();
    await assert.rejects(send(implicit, true, token, 'dead token'), { code: 'EAUTH', responseCode: 535 });
    assert.deepEqual([implicit.messages.length, starttls.messages.length], [1, 1]);
  });
});
