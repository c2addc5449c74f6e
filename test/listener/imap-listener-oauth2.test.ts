/**
 * The listener logging in with OAuth2 access tokens against a real Dovecot whose `oauth2` passdb
 * asks the local token server (test/harness/oauth-server.ts) about each token, over IMAPS and
 * STARTTLS with a per-run test CA: both provider shapes, OAUTHBEARER (what imapflow picks when
 * offered) and XOAUTH2, a token that dies during a long IDLE, a provider that refuses the grant
 * (the `error` state with the provider's message) and the recovery once it grants again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OAuth2Login } from '../../src/config/types.ts';
import type { ImapListenerOptions } from '../../src/listener/imap-listener.ts';
import type { ListenerStatus } from '../../src/protocol/listener-status.ts';
import { createMailCredentials, type MailCredentials } from '../../src/mail-account/credentials.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { startOAuthServer, type OAuthServer } from '../harness/oauth-server.ts';
import { freePort } from '../harness/ports.ts';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startListenerRun, type ListenerRun } from './listener-run.ts';

const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';
const MS = { tenant: 'contoso.onmicrosoft.com', clientId: 'ms-listener-app', clientSecret: 'ms-listener-secret-41c9', mailbox: 'ms-bot' };
const GOOGLE = { clientId: 'g-listener.apps.googleusercontent.com', clientSecret: 'g-listener-secret-0d2e', refreshToken: '1//g-listener-refresh-8f31', mailbox: 'g-bot' };
/** Each test its own clients and mailbox, so revocations and counters do not cross tests. */
let serial = 0;

let oauth: OAuthServer;
let ca: TestTls;
let dovecot: DovecotServer;
const proxies: TcpProxy[] = [];
const USERS = ['ms-bot', 'g-bot', 'x-bot', 'idle-bot', 'plan-bot', 'revoke-bot', 'recover-bot'];

before(async () => {
  oauth = await startOAuthServer();
  ca = createTestTls('airut listener oauth2 CA');
  const pair = ca.serverOptions('127.0.0.1');
  dovecot = await startDovecot({
    users: USERS.map((user) => ({ user, password: `pw-${user}` })),
    tls: { certPem: pair.cert, keyPem: pair.key },
    oauth2: { introspectionUrl: oauth.introspectionUrl },
  });
});
after(async () => {
  for (const p of proxies) await p.close();
  await dovecot?.stop();
  await oauth?.close();
  ca?.remove();
});

function microsoftClient(mailbox: string): { login: OAuth2Login; clientId: string; secrets: string[] } {
  const clientId = `${MS.clientId}-${++serial}`;
  const clientSecret = `${MS.clientSecret}-${serial}`;
  oauth.addClient({ tenant: MS.tenant, clientId, clientSecret, mailbox });
  const login: OAuth2Login = {
    kind: 'oauth2',
    provider: 'microsoft',
    grant: 'client_credentials',
    tokenUrl: oauth.microsoftTokenUrl(MS.tenant),
    clientId,
    clientSecret,
    refreshToken: null,
    scope: EXCHANGE_SCOPE,
    tenantId: MS.tenant,
  };
  return { login, clientId, secrets: [clientSecret] };
}

function googleClient(mailbox: string): { login: OAuth2Login; clientId: string; secrets: string[] } {
  const clientId = `${++serial}-${GOOGLE.clientId}`;
  const clientSecret = `${GOOGLE.clientSecret}-${serial}`;
  const refreshToken = `${GOOGLE.refreshToken}-${serial}`;
  oauth.addClient({ clientId, clientSecret, refreshToken, mailbox });
  const login: OAuth2Login = { kind: 'oauth2', provider: 'generic', grant: 'refresh_token', tokenUrl: oauth.tokenUrl, clientId, clientSecret, refreshToken, scope: null, tenantId: null };
  return { login, clientId, secrets: [clientSecret, refreshToken] };
}

interface Run extends ListenerRun {
  /** Every access token the listener was given. */
  readonly tokens: Set<string>;
  /** The raw (unredacted by the test) log text. */
  logText(): string;
}

/** Starts a listener for `user` whose credentials remember each token they hand out. */
function startListener(user: string, login: OAuth2Login, where: Pick<ImapListenerOptions, 'port' | 'security'>, extra: Partial<ImapListenerOptions> = {}): Run {
  const tokens = new Set<string>();
  const inner = createMailCredentials(user, login);
  const credentials: MailCredentials = {
    ...inner,
    auth: async () => {
      const auth = await inner.auth();
      if ('accessToken' in auth) tokens.add(auth.accessToken);
      return auth;
    },
  };
  const run = startListenerRun({
    host: '127.0.0.1',
    username: user,
    login,
    tls: { caFile: ca.caPath, caPem: ca.caPem, insecureSkipVerify: false },
    credentials,
    errorBackoff: { initialMs: 200, maxMs: 400, stableAfterMs: 60_000 },
    ...where,
    ...extra,
  });
  return { ...run, stop: () => run.stop(), tokens, logText: () => run.lines.join('') };
}

const last = (run: Run): ListenerStatus | undefined => run.statuses.at(-1);
const mail = (subject: string): string => buildMail({ from: 'alice@example.com', subject, text: 'please', authResults: [dmarcPass('mx.repos.test')] });

async function deliverAndWait(run: Run, user: string, subject: string): Promise<void> {
  await dovecot.append(user, mail(subject));
  await waitUntil(() => run.subjects.includes(subject), 20_000, `"${subject}" to reach the listener`);
}

function assertNoSecretLogged(run: Run, secrets: string[]): void {
  const text = run.logText();
  assert.ok(text.length > 0, 'the listener logged something');
  for (const s of [...secrets, ...run.tokens]) assert.ok(!text.includes(s), 'a token or secret reached a log line');
}

describe('IMAP listener with OAuth2 logins (real Dovecot, local token server)', () => {
  it('Microsoft shape over IMAPS: logs in with OAUTHBEARER, takes in mail, one token for the session', async () => {
    const { login, clientId, secrets } = microsoftClient('ms-bot');
    const run = startListener('ms-bot', login, { port: dovecot.tlsPort!, security: 'tls' });
    try {
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'the listener to idle');
      await deliverAndWait(run, 'ms-bot', 'hello from Microsoft 365');
      assert.match(dovecot.logTail(200), /Login: user=<ms-bot>, method=OAUTHBEARER/);
      assert.equal(oauth.tokenRequestCount(clientId), 1);
      assert.equal(oauth.tokenRequests.find((r) => r.clientId === clientId)?.scope, EXCHANGE_SCOPE);
      assertNoSecretLogged(run, secrets);
    } finally {
      await run.stop();
    }
  });

  it('Google shape over STARTTLS: logs in and takes in mail', async () => {
    const { login, clientId, secrets } = googleClient('g-bot');
    const run = startListener('g-bot', login, { port: dovecot.port, security: 'starttls' });
    try {
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'the listener to idle');
      await deliverAndWait(run, 'g-bot', 'hello from Gmail');
      assert.match(dovecot.logTail(200), /Login: user=<g-bot>, method=OAUTHBEARER/);
      assert.equal(oauth.tokenRequestCount(clientId), 1);
      assertNoSecretLogged(run, secrets);
    } finally {
      await run.stop();
    }
  });

  it('XOAUTH2 when the server offers only that (OAUTHBEARER removed from its capabilities on the way)', async () => {
    // Plain IMAP on loopback, so a proxy can edit the capability lines; login itself is the same.
    const proxy = await startTcpProxy(dovecot.port, '127.0.0.1', { fromServer: () => withoutOauthbearer() });
    proxies.push(proxy);
    const { login, secrets } = googleClient('x-bot');
    const run = startListener('x-bot', login, { port: proxy.port, security: 'none' });
    try {
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'the listener to idle');
      await deliverAndWait(run, 'x-bot', 'hello over XOAUTH2');
      assert.match(dovecot.logTail(200), /Login: user=<x-bot>, method=XOAUTH2/);
      assertNoSecretLogged(run, secrets);
    } finally {
      await run.stop();
    }
  });

  it('a token that dies during a long IDLE: the reconnect is refused once, a new token is fetched, mail still arrives', async () => {
    const proxy = await startTcpProxy(dovecot.tlsPort!);
    proxies.push(proxy);
    const { login, clientId, secrets } = googleClient('idle-bot');
    const run = startListener('idle-bot', login, { port: proxy.port, security: 'tls' });
    try {
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'the listener to idle');
      const [firstToken] = run.tokens;
      oauth.expireAll(); // the provider's clock: the cached token is dead, ours still thinks it has 55 minutes
      const reconnected = proxy.waitForConnection(20_000);
      proxy.cutAll(); // what a provider dropping a long IDLE looks like
      await reconnected;
      await waitUntil(() => oauth.tokenRequestCount(clientId) >= 2, 20_000, 'a new token to be asked for');
      await deliverAndWait(run, 'idle-bot', 'sent after the token expired');
      assert.equal(oauth.tokenRequestCount(clientId), 2, 'one refresh, after the refused login');
      assert.equal(run.tokens.size, 2);
      assert.equal(oauth.checkToken([...run.tokens].find((t) => t !== firstToken)!), 'idle-bot');
      assert.ok(!run.statuses.some((s) => s.state === 'error'), 'a stale token is not an error state');
      assert.match(run.logText(), /refused the cached access token; logging in again with a new one/);
      assertNoSecretLogged(run, secrets);
    } finally {
      await run.stop();
    }
  });

  it('a token that died during IDLE meets the planned reconnect (idle_reconnect_interval): renewed once, no error state', async () => {
    const { login, clientId } = microsoftClient('plan-bot');
    const run = startListener('plan-bot', login, { port: dovecot.tlsPort!, security: 'tls' }, { idleReconnectIntervalMs: 1_500 });
    try {
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'the listener to idle');
      oauth.expireAll();
      await waitUntil(() => oauth.tokenRequestCount(clientId) >= 2, 20_000, 'a new token after the planned reconnect was refused');
      await deliverAndWait(run, 'plan-bot', 'after the planned reconnect');
      assert.ok(!run.statuses.some((s) => s.state === 'error' || s.state === 'backoff'), 'neither an error nor a blip');
    } finally {
      await run.stop();
    }
  });

  it('the provider refuses the grant (revoked): the error state with the provider’s message, retried slowly', async () => {
    const proxy = await startTcpProxy(dovecot.tlsPort!);
    proxies.push(proxy);
    const { login, clientId, secrets } = microsoftClient('revoke-bot');
    const run = startListener('revoke-bot', login, { port: proxy.port, security: 'tls' });
    try {
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'the listener to idle');
      oauth.revoke(clientId);
      oauth.expireAll();
      proxy.cutAll();
      const error = await waitUntil(() => run.statuses.find((s) => s.state === 'error'), 20_000, 'the error state');
      assert.match(error.lastError ?? '', /unauthorized_client \(HTTP 400\): AADSTS7000112: Application '[^']+'\(airut test app\) is disabled\./);
      assert.match(error.lastError ?? '', /check email\.microsoft_oauth2\.tenant_id and client_id/);
      assert.match(error.detail ?? '', /cannot log in until the login or grant is fixed; next try in \d+ s/);
      assert.ok(error.nextRetryAt !== null && error.nextRetryAt > Date.now() - 5_000);
      // It keeps trying (someone may fix it) and stays in the error state while the provider refuses.
      const before = oauth.tokenRequestCount(clientId);
      await waitUntil(() => oauth.tokenRequestCount(clientId) > before + 1, 20_000, 'further attempts');
      assert.equal(last(run)?.state === 'error' || last(run)?.state === 'connecting', true);
      assertNoSecretLogged(run, secrets);
    } finally {
      await run.stop();
    }
  });

  it('recovers from the error state once the provider grants again, and takes in the mail that waited', async () => {
    const proxy = await startTcpProxy(dovecot.tlsPort!);
    proxies.push(proxy);
    const { login, clientId } = googleClient('recover-bot');
    const run = startListener('recover-bot', login, { port: proxy.port, security: 'tls' });
    try {
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'the listener to idle');
      // The next three refreshes are refused as a revoked grant; the fourth works (consent given again).
      oauth.failNext(3, { status: 400, body: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' } });
      oauth.expireAll();
      proxy.cutAll();
      await waitUntil(() => run.statuses.some((s) => s.state === 'error' && /invalid_grant.*Token has been expired or revoked/.test(s.lastError ?? '')), 20_000, 'the error state');
      await dovecot.append('recover-bot', mail('waited during the error'));
      await waitUntil(() => run.subjects.includes('waited during the error'), 30_000, 'the mail after the recovery');
      await waitUntil(() => last(run)?.state === 'idle', 20_000, 'idle again');
      assert.equal(oauth.tokenRequests.filter((r) => r.clientId === clientId && r.status === 200).length, 2);
    } finally {
      await run.stop();
    }
  });
});

describe('IMAP listener when the server cannot check tokens just now', () => {
  it('a login answered [UNAVAILABLE] (Dovecot cannot reach its introspection URL) is a blip: backoff, not the error state', async () => {
    const dead = await freePort();
    const lonely = await startDovecot({ users: [{ user: 'u-bot', password: 'pw-u-bot' }], oauth2: { introspectionUrl: `http://127.0.0.1:${dead}/introspect` } });
    const { login, clientId } = googleClient('u-bot');
    const run = startListener('u-bot', login, { port: lonely.port, security: 'none' });
    try {
      await waitUntil(() => run.statuses.filter((s) => s.state === 'backoff').length >= 2, 20_000, 'two reconnect backoffs');
      assert.match(run.statuses.find((s) => s.state === 'backoff')?.lastError ?? '', /UNAVAILABLE|Temporary authentication failure/);
      assert.ok(!run.statuses.some((s) => s.state === 'error'));
      assert.equal(oauth.tokenRequestCount(clientId), 1, 'the token is kept: nothing was wrong with it');
    } finally {
      await run.stop();
      await lonely.stop();
    }
  });
});

/**
 * Removes ` AUTH=OAUTHBEARER` from what the server sends, a whole line at a time (a line cut across
 * two chunks is held until its end arrives). IMAP responses end with CRLF, so nothing is held for long.
 */
function withoutOauthbearer(): (chunk: Buffer) => Buffer {
  let pending = '';
  return (chunk) => {
    const text = pending + chunk.toString('latin1');
    const end = text.lastIndexOf('\r\n') + 2;
    pending = text.slice(end);
    return Buffer.from(text.slice(0, end).replace(/ AUTH=OAUTHBEARER/g, ''), 'latin1');
  };
}
