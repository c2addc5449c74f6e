/**
 * OAuth2TokenSource against the local token server (test/harness/oauth-server.ts), which answers in
 * the shapes of Microsoft's and Google's token endpoints: both grants, caching, refresh before
 * expiry, invalidate() after a refused login, one request for concurrent callers, and the
 * providers' errors as OAuth2TokenError naming the provider's message and never a secret.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { OAuth2Login } from '../../src/config/types.ts';
import { redactSecretValues } from '../../src/log/logger.ts';
import { createMailCredentials } from '../../src/mail-account/credentials.ts';
import { OAuth2TokenError, OAuth2TokenSource, REFRESH_MARGIN_MS } from '../../src/mail-account/oauth2-token-source.ts';
import { startOAuthServer, type OAuthServer } from '../harness/oauth-server.ts';

const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';
const MS = { tenant: 'contoso.onmicrosoft.com', clientId: 'ms-app-1', clientSecret: 'ms-client-secret-7a1f', mailbox: 'bot@contoso.com' };
const GOOGLE = { clientId: 'g-app.apps.googleusercontent.com', clientSecret: 'g-client-secret-93bd', refreshToken: '1//g-refresh-token-55e0', mailbox: 'bot@gmail.test' };
const SECRETS = [MS.clientSecret, GOOGLE.clientSecret, GOOGLE.refreshToken];

function microsoftLogin(oauth: OAuthServer, over: Partial<OAuth2Login> = {}): OAuth2Login {
  return {
    kind: 'oauth2',
    provider: 'microsoft',
    grant: 'client_credentials',
    tokenUrl: oauth.microsoftTokenUrl(MS.tenant),
    clientId: MS.clientId,
    clientSecret: MS.clientSecret,
    refreshToken: null,
    scope: EXCHANGE_SCOPE,
    tenantId: MS.tenant,
    ...over,
  };
}

function googleLogin(oauth: OAuthServer, over: Partial<OAuth2Login> = {}): OAuth2Login {
  return {
    kind: 'oauth2',
    provider: 'generic',
    grant: 'refresh_token',
    tokenUrl: oauth.tokenUrl,
    clientId: GOOGLE.clientId,
    clientSecret: GOOGLE.clientSecret,
    refreshToken: GOOGLE.refreshToken,
    scope: null,
    tenantId: null,
    ...over,
  };
}

/** The error a token request ends with; fails the test when it succeeds. */
async function tokenError(source: OAuth2TokenSource): Promise<OAuth2TokenError> {
  try {
    await source.token();
  } catch (err) {
    assert.ok(err instanceof OAuth2TokenError, `not an OAuth2TokenError: ${String(err)}`);
    assert.equal(err.code, 'MAIL_OAUTH2_FAILED');
    for (const secret of SECRETS) assert.ok(!err.message.includes(secret), `a secret in the error message: ${err.message}`);
    return err;
  }
  assert.fail('the token request succeeded');
}

describe('OAuth2TokenSource', () => {
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

  it('gets a Microsoft client-credentials token (Exchange scope, secret in the body) that logs in as the mailbox', async () => {
    const issued = await new OAuth2TokenSource(microsoftLogin(oauth)).issued();
    assert.equal(oauth.checkToken(issued.accessToken), MS.mailbox);
    assert.ok(issued.expiresAt > Date.now() + 55 * 60_000);
    assert.deepEqual(
      oauth.tokenRequests.map((r) => [r.endpoint, r.tenant, r.grantType, r.scope, r.authMethod, r.status]),
      [['microsoft', MS.tenant, 'client_credentials', EXCHANGE_SCOPE, 'client_secret_post', 200]],
    );
  });

  it('gets a Google-shaped refresh-token token, with or without a scope', async () => {
    const token = await new OAuth2TokenSource(googleLogin(oauth)).token();
    assert.equal(oauth.checkToken(token), GOOGLE.mailbox);
    await new OAuth2TokenSource(googleLogin(oauth, { scope: 'https://mail.google.com/' })).token();
    assert.deepEqual(
      oauth.tokenRequests.map((r) => [r.endpoint, r.grantType, r.scope ?? null, r.status]),
      [
        ['generic', 'refresh_token', null, 200],
        ['generic', 'refresh_token', 'https://mail.google.com/', 200],
      ],
    );
  });

  it('reuses one token for many logins, and asks again once it is within 5 minutes of expiry', async () => {
    let now = Date.now();
    const source = new OAuth2TokenSource(googleLogin(oauth), { now: () => now });
    const first = await source.token();
    for (let i = 0; i < 10; i++) assert.equal(await source.token(), first);
    assert.equal(oauth.tokenRequestCount(GOOGLE.clientId), 1);

    now += 3600_000 - REFRESH_MARGIN_MS - 1_000; // still outside the margin
    assert.equal(await source.token(), first);
    now += 2_000; // inside it
    const second = await source.token();
    assert.notEqual(second, first);
    assert.equal(oauth.tokenRequestCount(GOOGLE.clientId), 2);
  });

  it('after invalidate() (the server refused the token) the next login gets a new token, once', async () => {
    const creds = createMailCredentials(MS.mailbox, microsoftLogin(oauth));
    const first = await creds.auth();
    assert.ok('accessToken' in first);
    oauth.expireAll();
    creds.loginRefused();
    const second = await creds.auth();
    assert.ok('accessToken' in second);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(oauth.checkToken(second.accessToken), MS.mailbox);
    await creds.auth();
    assert.equal(oauth.tokenRequestCount(MS.clientId), 2);
  });

  it('concurrent callers share one request', async () => {
    const source = new OAuth2TokenSource(microsoftLogin(oauth));
    const tokens = await Promise.all(Array.from({ length: 8 }, () => source.token()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(oauth.tokenRequestCount(MS.clientId), 1);
    // A failing request is shared too, and the next call tries again.
    source.invalidate();
    oauth.failNext(1, { status: 503, body: { error: 'temporarily_unavailable', error_description: 'try later' } });
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => source.token()));
    assert.ok(results.every((r) => r.status === 'rejected'));
    assert.equal(oauth.tokenRequestCount(MS.clientId), 2);
    assert.equal(oauth.checkToken(await source.token()), MS.mailbox);
  });

  it('registers each access token for log redaction as it is issued, and forgets tokens two generations old', async () => {
    const source = new OAuth2TokenSource(googleLogin(oauth));
    const t1 = await source.token();
    assert.equal(redactSecretValues(`AUTH ${t1}`), 'AUTH [REDACTED]');
    source.invalidate();
    const t2 = await source.token();
    source.invalidate();
    const t3 = await source.token();
    assert.equal(redactSecretValues(`${t2} ${t3}`), '[REDACTED] [REDACTED]');
    assert.equal(redactSecretValues(t1), t1, 'a token two generations old is no longer in the pattern');
  });
});

describe('OAuth2TokenSource: the providers’ errors', () => {
  let oauth: OAuthServer;
  let hanging: http.Server;
  let hangingUrl: string;
  before(async () => {
    oauth = await startOAuthServer();
    oauth.addClient(MS);
    oauth.addClient(GOOGLE);
    // A token endpoint that accepts the request and never answers.
    hanging = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/token`;
  });
  after(async () => {
    hanging?.closeAllConnections();
    hanging?.close();
    await oauth?.close();
  });

  it('wrong tenant: Microsoft’s AADSTS message, the tenant named, a fix to make', async () => {
    const err = await tokenError(new OAuth2TokenSource(microsoftLogin(oauth, { tokenUrl: oauth.microsoftTokenUrl('wrong.example'), tenantId: 'wrong.example' })));
    assert.equal(err.providerError, 'invalid_request');
    assert.equal(err.httpStatus, 400);
    assert.equal(err.needsFix, true);
    assert.match(err.message, /^Microsoft 365 \(127\.0\.0\.1:\d+\) gave no access token for client ms-app-1 in tenant wrong\.example: invalid_request \(HTTP 400\): AADSTS90002: Tenant 'wrong\.example' not found\./);
    assert.match(err.message, /check email\.microsoft_oauth2\.tenant_id/);
    assert.doesNotMatch(err.message, /\n/);
  });

  it('bad client secret (Microsoft and Google): invalid_client with the hint to renew the secret', async () => {
    const ms = await tokenError(new OAuth2TokenSource(microsoftLogin(oauth, { clientSecret: 'wrong-secret-1234' })));
    assert.equal(ms.providerError, 'invalid_client');
    assert.match(ms.message, /invalid_client \(HTTP 401\): AADSTS7000215: Invalid client secret provided\./);
    assert.match(ms.message, /check email\.microsoft_oauth2\.client_id and client_secret/);
    assert.ok(!ms.message.includes('wrong-secret-1234'));
    const g = await tokenError(new OAuth2TokenSource(googleLogin(oauth, { clientSecret: 'wrong-secret-5678' })));
    assert.equal(g.needsFix, true);
    assert.match(g.message, /^the OAuth2 provider at 127\.0\.0\.1:\d+ did not refresh the access token of client g-app\.apps\.googleusercontent\.com: invalid_client \(HTTP 401\): Unauthorized; check email\.oauth2\.client_id/);
  });

  it('revoked refresh token: invalid_grant, "Token has been expired or revoked", grant access again', async () => {
    const source = new OAuth2TokenSource(googleLogin(oauth));
    await source.token();
    oauth.revoke(GOOGLE.clientId);
    source.invalidate();
    const err = await tokenError(source);
    assert.equal(err.providerError, 'invalid_grant');
    assert.equal(err.needsFix, true);
    assert.match(err.message, /invalid_grant \(HTTP 400\): Token has been expired or revoked\.; the refresh token was revoked or expired: grant access again and set email\.oauth2\.refresh_token/);
  });

  it('a 500 with an OAuth error body, and one with an HTML page: the status, the provider’s words, not "needs a fix"', async () => {
    oauth.failNext(1, { status: 500, body: { error: 'server_error', error_description: 'backend unavailable' } });
    const json = await tokenError(new OAuth2TokenSource(googleLogin(oauth)));
    assert.match(json.message, /server_error \(HTTP 500\): backend unavailable$/);
    assert.deepEqual([json.providerError, json.httpStatus, json.needsFix], ['server_error', 500, false]);
    oauth.failNext(1, { status: 502, body: '<html><body>Bad Gateway</body></html>' });
    const html = await tokenError(new OAuth2TokenSource(googleLogin(oauth)));
    assert.match(html.message, /: HTTP 502 with a text\/plain body, not an OAuth2 token response$/);
    assert.deepEqual([html.providerError, html.needsFix], [null, false]);
  });

  it('a 200 that is not JSON (token_url points at a web page) needs a fix', async () => {
    oauth.failNext(1, { status: 200, body: 'welcome to our portal' });
    const err = await tokenError(new OAuth2TokenSource(googleLogin(oauth)));
    assert.match(err.message, /HTTP 200 with a text\/plain body, not an OAuth2 token response/);
    assert.equal(err.needsFix, true);
  });

  it('a token endpoint that does not answer: a timeout naming the wait; nothing listening: the network error', async () => {
    const slow = await tokenError(new OAuth2TokenSource(googleLogin(oauth, { tokenUrl: hangingUrl }), { timeoutMs: 300 }));
    assert.match(slow.message, /did not refresh the access token of client g-app\.apps\.googleusercontent\.com: no answer within 300 ms$/);
    assert.deepEqual([slow.httpStatus, slow.needsFix], [null, false]);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await tokenError(new OAuth2TokenSource(googleLogin(oauth, { tokenUrl: `http://127.0.0.1:${port}/token` })));
    assert.match(refused.message, /ECONNREFUSED$/);
    assert.equal(refused.needsFix, false);
  });
});
