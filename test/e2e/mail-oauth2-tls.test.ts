/**
 * Issue 16's "Done when", end to end: the real daemon with a Microsoft 365-shaped repository that
 * reads its inbox over IMAPS and sends over SMTP with STARTTLS, both checked against a per-run test
 * CA (`email.tls.ca_file`), both logging in with OAuth2 access tokens from `microsoft_oauth2` (the
 * local token server stands in for login.microsoftonline.com through `token_url`). A mail appended
 * to the inbox becomes a task run by the real Claude Code CLI in podman (mock Anthropic API, the
 * scripted agent), and its reply comes back through the SMTP capture, authenticated with XOAUTH2.
 *
 * Then two repositories in one daemon: one whose provider refuses the grant is in the `error`
 * state on /health with the provider's message, while the other goes on taking in mail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDaemon, waitUntil, writeTestConfig, type DaemonProcess, type TestRepo } from '../harness/daemon-process.ts';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { ALICE, AUTHSERV, isAck, repoYaml, taskFor } from '../harness/e2e-env.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { startOAuthServer, type OAuthServer } from '../harness/oauth-server.ts';
import { freePort } from '../harness/ports.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { createSourceRepo } from '../harness/source-repo.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';

const TENANT = 'contoso.onmicrosoft.com';
const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';
/** The token server's access tokens: `at-` and 32 base64url characters. */
const ACCESS_TOKEN = /at-[A-Za-z0-9_-]{32}/;
const podman = runtimeCases().find((c) => c.command === 'podman')!;

let oauth: OAuthServer;
let ca: TestTls;
let dovecot: DovecotServer;
let smtp: SmtpCapture;
let mock: MockAnthropic;
const daemons: DaemonProcess[] = [];

before(async () => {
  oauth = await startOAuthServer();
  ca = createTestTls('airut e2e mail CA');
  const pair = ca.serverOptions('127.0.0.1');
  [dovecot, smtp, mock] = await Promise.all([
    startDovecot({
      users: ['m365-bot', 'gmail-bot', 'broken-bot'].map((user) => ({ user, password: `pw-${user}` })),
      tls: { certPem: pair.cert, keyPem: pair.key },
      oauth2: { introspectionUrl: oauth.introspectionUrl },
    }),
    // The 587 kind: STARTTLS, then AUTH XOAUTH2 checked against the token server.
    startSmtpCapture({ tls: pair, oauth2: oauth }),
    startMockAnthropic(scriptedAgent),
  ]);
});
after(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), mock?.close(), oauth?.close()]);
  ca?.remove();
});

/** `email:` of a repository on the IMAPS port and SMTP STARTTLS, trusting the test CA, with the given login. */
function tlsEmail(user: string, login: Record<string, unknown>): Record<string, unknown> {
  return {
    imap_server: '127.0.0.1',
    imap_port: dovecot.tlsPort,
    imap_security: 'tls',
    smtp_server: '127.0.0.1',
    smtp_port: smtp.port,
    smtp_security: 'starttls',
    username: user,
    from: `Bot ${user} <${user}@repos.test>`,
    tls: { ca_file: ca.caPath },
    ...login,
  };
}

function microsoftLogin(clientId: string, secretVar: string, tenant = TENANT): Record<string, unknown> {
  return { microsoft_oauth2: { tenant_id: tenant, client_id: clientId, client_secret: `__ENV__${secretVar}`, token_url: oauth.microsoftTokenUrl(tenant) } };
}

async function deliver(user: string, subject: string, text: string): Promise<string> {
  const messageId = `<${Date.now().toString(36)}.${Math.random().toString(16).slice(2)}@example.com>`;
  await dovecot.append(user, buildMail({ from: ALICE, to: `${user}@repos.test`, subject, text, messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] }));
  return messageId;
}

function assertNoSecretInLogs(daemon: DaemonProcess, secrets: string[]): void {
  const text = JSON.stringify(daemon.logs) + daemon.otherOutput.join('\n');
  for (const s of secrets) assert.ok(!text.includes(s), 'a client secret or refresh token reached the log');
  assert.doesNotMatch(text, ACCESS_TOKEN, 'an access token reached the log');
}

describe('mail over TLS with OAuth2 logins, end to end', () => {
  it('a mail read over IMAPS with a Microsoft 365 token becomes a task; its reply leaves over STARTTLS with XOAUTH2', { skip: podman.skip }, async () => {
    const secret = 'm365-e2e-client-secret-5a7d';
    oauth.addClient({ tenant: TENANT, clientId: 'm365-e2e-app', clientSecret: secret, mailbox: 'm365-bot' });
    const source = await createSourceRepo(repoYaml());
    const repo: TestRepo = {
      id: 'm365',
      imapPort: dovecot.tlsPort!,
      user: 'm365-bot',
      password: 'unused',
      repoUrl: source.url,
      secrets: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'test-key' },
      extra: { email: tlsEmail('m365-bot', microsoftLogin('m365-e2e-app', 'M365_CLIENT_SECRET')) },
    };
    const cfg = writeTestConfig({
      repos: [repo],
      global: { container_command: 'podman', container_network: 'host', execution: { max_concurrent: 1, shutdown_timeout: 5 } },
    });
    const daemon = startDaemon(cfg, [], { ...podman.env, M365_CLIENT_SECRET: secret });
    daemons.push(daemon);

    const messageId = await deliver('m365-bot', 'Tell me about OAuth', 'What is a bearer token?');
    const reply = await smtp.waitFor((m) => m.inReplyTo === messageId && !isAck(m), 120_000);
    assert.equal(reply.authMethod, 'XOAUTH2');
    assert.equal(reply.authUser, 'm365-bot');
    assert.equal(reply.secure, true, 'STARTTLS before AUTH');
    assert.deepEqual(reply.to, [ALICE]);
    assert.equal(reply.envelope.mailFrom, 'm365-bot@repos.test');
    const conversationId = reply.header('x-airut-conversation');
    assert.match(conversationId ?? '', /^[0-9a-f]{8}$/);
    assert.equal(reply.subject, `Re: [ID:${conversationId}] Tell me about OAuth`);
    assert.equal(taskFor(cfg, messageId)?.status, 'completed');
    // The acknowledgement went the same way.
    const ack = smtp.messages.find((m) => m.inReplyTo === messageId && isAck(m));
    assert.equal(ack?.authMethod, 'XOAUTH2');

    // The listener logged in over IMAPS with a token (imapflow picks OAUTHBEARER, which Dovecot offers).
    assert.match(dovecot.logTail(400), /Login: user=<m365-bot>, method=OAUTHBEARER/);
    // Tokens came from the Microsoft-shaped endpoint with Exchange's scope: one per thread that
    // holds one (the listener's, the sender's), not one per login or per mail.
    const requests = oauth.tokenRequests.filter((r) => r.clientId === 'm365-e2e-app');
    assert.ok(requests.length >= 1 && requests.length <= 2, `token requests: ${requests.length}`);
    for (const r of requests) assert.deepEqual([r.endpoint, r.tenant, r.grantType, r.scope, r.status], ['microsoft', TENANT, 'client_credentials', EXCHANGE_SCOPE, 200]);
    assertNoSecretInLogs(daemon, [secret]);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });

  it('two repositories: the one whose provider refuses is in the error state with the provider’s message; the other goes on', async () => {
    const goodSecret = 'gmail-e2e-client-secret-19fe';
    const refresh = '1//gmail-e2e-refresh-token-77aa';
    oauth.addClient({ clientId: 'gmail-e2e.apps.googleusercontent.com', clientSecret: goodSecret, refreshToken: refresh, mailbox: 'gmail-bot' });
    const badSecret = 'broken-e2e-client-secret-c3c3';
    const port = await freePort();
    const repos: TestRepo[] = [
      {
        id: 'gmail',
        imapPort: dovecot.tlsPort!,
        user: 'gmail-bot',
        password: 'unused',
        extra: {
          email: tlsEmail('gmail-bot', {
            oauth2: { token_url: oauth.tokenUrl, client_id: 'gmail-e2e.apps.googleusercontent.com', client_secret: '__ENV__GMAIL_CLIENT_SECRET', refresh_token: '__ENV__GMAIL_REFRESH_TOKEN' },
          }),
        },
      },
      // A tenant the provider does not know: the AADSTS90002 answer.
      { id: 'broken', imapPort: dovecot.tlsPort!, user: 'broken-bot', password: 'unused', extra: { email: tlsEmail('broken-bot', microsoftLogin('broken-app', 'BROKEN_CLIENT_SECRET', 'wrong-tenant.example')) } },
    ];
    const cfg = writeTestConfig({ repos, global: { dashboard: { enabled: true, host: '127.0.0.1', port } } });
    const daemon = startDaemon(cfg, [], { GMAIL_CLIENT_SECRET: goodSecret, GMAIL_REFRESH_TOKEN: refresh, BROKEN_CLIENT_SECRET: badSecret });
    daemons.push(daemon);
    interface RepoHealthView {
      state?: string;
      lastError?: string | null;
      nextRetryAt?: number | null;
    }
    const health = async (): Promise<{ status: number; body: { repos?: Record<string, RepoHealthView>; problems?: Array<{ component: string; message: string }> } }> => {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      return { status: r.status, body: (await r.json()) as never };
    };

    const degraded = await waitUntil(
      async () => {
        const h = await health().catch(() => null);
        return h?.body.repos?.broken?.state === 'error' && h.body.repos.gmail?.state === 'idle' ? h : undefined;
      },
      30_000,
      'broken in the error state and gmail idle',
    );
    assert.equal(degraded.status, 503);
    const broken = degraded.body.repos!.broken!;
    assert.match(broken.lastError ?? '', /invalid_request \(HTTP 400\): AADSTS90002: Tenant 'wrong-tenant\.example' not found\./);
    assert.match(broken.lastError ?? '', /check email\.microsoft_oauth2\.tenant_id/);
    assert.ok((broken.nextRetryAt ?? 0) > Date.now(), 'a retry is scheduled');
    assert.ok(degraded.body.problems?.some((p) => p.component === 'repo:broken' && /cannot log in until this is fixed: .*AADSTS90002/.test(p.message)));
    assert.ok(!degraded.body.problems?.some((p) => p.component === 'repo:gmail'));

    // The healthy repository takes in mail meanwhile.
    const messageId = await deliver('gmail-bot', 'still working', 'hello');
    await waitUntil(() => taskFor(cfg, messageId), 20_000, 'the gmail repo to accept its mail');
    assert.ok(daemon.logs.some((l) => l.repo === 'broken' && l.msg === 'IMAP login cannot succeed until the configuration or the grant is fixed'));
    assertNoSecretInLogs(daemon, [goodSecret, refresh, badSecret]);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});
