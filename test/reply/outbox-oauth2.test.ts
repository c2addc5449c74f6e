/**
 * The outbox sender logging in to SMTP with XOAUTH2 over STARTTLS (test CA), against the SMTP
 * capture checking each token with the local token server: one token for many sends, a refused
 * token renewed once (nodemailer's renew) with the send going through, and a provider that
 * refuses the grant leaving the reply pending with the provider's message, not lost. The pool
 * closes its connection after POOL_IDLE_MS here, so that every send logs in again (a new pooled
 * connection takes a cached or renewed token just as a first one does).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OAuth2Login, RepoServerConfig } from '../../src/config/types.ts';
import { OutgoingMailSender } from '../../src/reply/outbox-sender.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { getMail } from '../../src/store/outgoing-mail.ts';
import { queueReply } from './queued-reply.ts';
import { captureLog } from '../harness/capture-log.ts';
import { startOAuthServer, type OAuthServer } from '../harness/oauth-server.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';

const TENANT = 'fabrikam.onmicrosoft.com';
const MAILBOX = 'bot@fabrikam.example';
let serial = 0;
const POOL_IDLE_MS = 20;

/** Waits until the pooled connection was closed for being idle, so the next send logs in anew. */
async function poolClosed(): Promise<void> {
  const end = Date.now() + 5000;
  while (smtp.openConnections > 0) {
    if (Date.now() > end) throw new Error('the pooled SMTP connection was not closed after its idle time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let oauth: OAuthServer;
let ca: TestTls;
let smtp: SmtpCapture;

before(async () => {
  oauth = await startOAuthServer();
  ca = createTestTls('airut outbox oauth2 CA');
  // The 587 kind: plain connect, STARTTLS, then AUTH XOAUTH2 checked against the token server.
  smtp = await startSmtpCapture({ tls: ca.serverOptions('127.0.0.1'), oauth2: oauth });
});
after(async () => {
  await smtp?.stop();
  await oauth?.close();
  ca?.remove();
});

function repo(): { config: RepoServerConfig; clientId: string; secret: string } {
  const clientId = `outbox-app-${++serial}`;
  const secret = `outbox-client-secret-${serial}-c0ffee`;
  oauth.addClient({ tenant: TENANT, clientId, clientSecret: secret, mailbox: MAILBOX });
  const login: OAuth2Login = {
    kind: 'oauth2',
    provider: 'microsoft',
    grant: 'client_credentials',
    tokenUrl: oauth.microsoftTokenUrl(TENANT),
    clientId,
    clientSecret: secret,
    refreshToken: null,
    scope: 'https://outlook.office365.com/.default',
    tenantId: TENANT,
  };
  const config = testRepoServerConfig('api', {
    email: {
      smtpPort: smtp.port,
      smtpSecurity: 'starttls',
      username: MAILBOX,
      login,
      tls: { caFile: ca.caPath, caPem: ca.caPem, insecureSkipVerify: false },
      from: `Airut Bot <${MAILBOX}>`,
      fromAddress: MAILBOX,
    },
  });
  return { config, clientId, secret };
}

/** Queues a reply as the task runner would (the task row and the mail in one transaction). */
async function queue(db: Db, subject: string): Promise<number> {
  return queueReply(db, { subject, conversationId: 'deadbeef', from: `Airut Bot <${MAILBOX}>`, fromAddress: MAILBOX });
}

describe('outbox sender with XOAUTH2 over STARTTLS', () => {
  it('sends with XOAUTH2 after STARTTLS, one token for many sends', async () => {
    const { config, clientId, secret } = repo();
    const db = openDatabase(':memory:', { migrate: true });
    const { log, lines } = captureLog();
    const sender = new OutgoingMailSender(db, { api: config }, log, { pollIntervalMs: 50, timeouts: { poolIdleMs: POOL_IDLE_MS } });
    const connectionsBefore = smtp.connectionCount;
    try {
      for (const s of ['one', 'two', 'three']) {
        await queue(db, `cached ${s}`);
        assert.equal((await sender.flush(20_000)).sent, 1);
        await poolClosed();
      }
      assert.equal(smtp.connectionCount - connectionsBefore, 3, 'each send logged in on a new connection');
      const got = smtp.messages.filter((m) => m.subject?.includes('cached'));
      assert.deepEqual(got.map((m) => [m.authMethod, m.authUser, m.secure]), Array(3).fill(['XOAUTH2', MAILBOX, true]));
      assert.equal(oauth.tokenRequestCount(clientId), 1, 'one token served the three sends');
      assert.ok(!lines.join('').includes(secret));
    } finally {
      await sender.stop();
    }
  });

  it('a token the server refuses is renewed once and the send goes through', async () => {
    const { config, clientId } = repo();
    const db = openDatabase(':memory:', { migrate: true });
    const sender = new OutgoingMailSender(db, { api: config }, captureLog().log, { pollIntervalMs: 50, timeouts: { poolIdleMs: POOL_IDLE_MS } });
    try {
      await queue(db, 'before expiry');
      assert.equal((await sender.flush(20_000)).sent, 1);
      await poolClosed();
      oauth.expireAll(); // the provider ended the token early; our cache still thinks it is good
      const id = await queue(db, 'after expiry');
      assert.equal((await sender.flush(20_000)).sent, 1);
      const row = getMail(db, id);
      assert.deepEqual([row?.status, row?.attempts], ['sent', 1], 'sent on the first attempt, after one renewal');
      assert.equal(oauth.tokenRequestCount(clientId), 2);
      const last = smtp.messages.find((m) => m.subject?.includes('after expiry'));
      assert.equal(last?.authMethod, 'XOAUTH2');
    } finally {
      await sender.stop();
    }
  });

  it('a provider that refuses the grant leaves the reply pending with its message; it goes out once the grant works', async () => {
    const { config, secret } = repo();
    const db = openDatabase(':memory:', { migrate: true });
    const { log, lines } = captureLog();
    let skew = 0;
    const sender = new OutgoingMailSender(db, { api: config }, log, { pollIntervalMs: 50, now: () => Date.now() + skew });
    try {
      oauth.failNext(1, {
        status: 401,
        body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' },
      });
      const id = await queue(db, 'while refused');
      const r = await sender.flush(20_000);
      assert.equal(r.sent, 0);
      const row = getMail(db, id);
      assert.equal(row?.status, 'pending', 'kept for a retry, not failed');
      assert.match(row?.lastError ?? '', /EAUTH/);
      assert.match(row?.lastError ?? '', /invalid_client \(HTTP 401\): AADSTS7000215: Invalid client secret provided\.; check email\.microsoft_oauth2\.client_id and client_secret/);
      assert.ok(!(row?.lastError ?? '').includes(secret));
      assert.ok(lines.some((l) => l.includes('"mail not sent; will retry"') && l.includes('AADSTS7000215')));

      skew += 60 * 60_000; // past the retry time
      assert.equal((await sender.flush(20_000)).sent, 1);
      assert.equal(getMail(db, id)?.status, 'sent');
      assert.ok(!lines.join('').includes(secret));
    } finally {
      await sender.stop();
    }
  });
});
