/**
 * The outbox sender over TLS against the real SMTP capture with a certificate from a per-run test
 * CA: a reply goes out over implicit TLS (465 kind) and STARTTLS (587 kind) with `tls.ca_file`; an
 * unknown CA, a wrong host name or a server without STARTTLS keep the reply pending (retried, with
 * the error stored in words an operator can act on) and nothing goes out in plain text.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionSecurity, MailTlsConfig, RepoServerConfig } from '../../src/config/types.ts';
import { INSECURE_TLS_WARNING } from '../../src/mail-account/tls.ts';
import { composeMail } from '../../src/reply/compose.ts';
import { OutgoingMailSender } from '../../src/reply/outbox-sender.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { enqueueMail, getMail } from '../../src/store/outgoing-mail.ts';
import { captureLog } from '../harness/capture-log.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { startClientBytesRecorder } from '../mail-account/client-bytes-recorder.ts';
import { startTlsMailServers, type TlsMailServers } from '../mail-account/tls-servers.ts';

const PASSWORD = 'smtp-tls-Pa55word';
let s: TlsMailServers;
before(async () => {
  s = await startTlsMailServers({ captureDefaults: { authUsers: { bot: PASSWORD } } });
});
after(() => s?.stop());

const trustingCa = (): MailTlsConfig => ({ caFile: s.ca.caPath, caPem: s.ca.caPem, insecureSkipVerify: false });

function repo(port: number, smtpSecurity: ConnectionSecurity, tls: MailTlsConfig): RepoServerConfig {
  return testRepoServerConfig('api', {
    email: { smtpPort: port, smtpSecurity, tls, username: 'bot', login: { kind: 'password', password: PASSWORD }, from: 'Bot <bot@example.com>', fromAddress: 'bot@example.com' },
  });
}

/** Stores one reply as the task runner would; returns its outbox row id. */
async function queueReply(db: Db, subject: string): Promise<number> {
  const mail = await composeMail({
    repoEmail: { from: 'Bot <bot@example.com>', fromAddress: 'bot@example.com' },
    to: 'alice@example.org',
    conversationId: 'deadbeef',
    originalSubject: subject,
    inReplyTo: '<q@mail.example.org>',
    references: [],
    body: { kind: 'reply', markdown: 'Done.', usage: null },
  });
  return enqueueMail(
    db,
    { repoId: 'api', taskId: null, conversationId: 'deadbeef', kind: mail.kind, messageId: mail.messageId, recipient: 'alice@example.org', subject: mail.subject, raw: mail.raw },
    Date.now(),
  );
}

interface Outcome {
  readonly db: Db;
  readonly id: number;
  readonly lines: string[];
}

/** Runs a sender for one reply until `done` holds for its row. */
async function send(config: RepoServerConfig, subject: string, done: (row: NonNullable<ReturnType<typeof getMail>>) => boolean): Promise<Outcome> {
  const db = openDatabase(':memory:', { migrate: true });
  const { log, lines } = captureLog();
  const id = await queueReply(db, subject);
  const sender = new OutgoingMailSender(db, { api: config }, log, { pollIntervalMs: 20, baseBackoffMs: 30, maxBackoffMs: 60, timeouts: { connectionTimeoutMs: 10_000 } });
  sender.start();
  try {
    await waitUntil(() => done(getMail(db, id)!), 20_000, `the outbox row of "${subject}"`, 20);
  } finally {
    await sender.stop();
  }
  return { db, id, lines };
}

describe('replies over TLS with tls.ca_file', () => {
  it('implicit TLS (465 kind)', async () => {
    const smtp = await s.capture({ tls: s.ca.serverOptions('127.0.0.1'), secure: true });
    const { db, id } = await send(repo(smtp.port, 'tls', trustingCa()), 'over 465', (r) => r.status === 'sent');
    const m = await smtp.waitFor((x) => /over 465/.test(x.subject ?? ''));
    assert.equal(m.secure, true);
    assert.equal(m.authUser, 'bot');
    assert.equal(getMail(db, id)!.status, 'sent');
  });

  it('STARTTLS (587 kind)', async () => {
    const smtp = await s.capture({ tls: s.ca.serverOptions('127.0.0.1') });
    await send(repo(smtp.port, 'starttls', trustingCa()), 'over 587', (r) => r.status === 'sent');
    const m = await smtp.waitFor((x) => /over 587/.test(x.subject ?? ''));
    assert.equal(m.secure, true);
  });
});

describe('a connection that cannot be verified keeps the reply pending, retried, with a clear error', () => {
  const retried = (r: NonNullable<ReturnType<typeof getMail>>) => r.attempts >= 2;

  it('an unknown CA', async () => {
    const smtp = await s.capture({ tls: s.ca.serverOptions('127.0.0.1'), secure: true });
    const { db, id, lines } = await send(repo(smtp.port, 'tls', { caFile: s.unknownCa.caPath, caPem: s.unknownCa.caPem, insecureSkipVerify: false }), 'unknown ca', retried);
    const row = getMail(db, id)!;
    assert.equal(row.status, 'pending');
    assert.match(row.lastError ?? '', new RegExp(`SMTP server 127\\.0\\.0\\.1:${smtp.port} presented a certificate signed by a CA this machine does not trust`));
    assert.match(row.lastError ?? '', /set repos\.api\.email\.tls\.ca_file/);
    assert.ok(lines.some((l) => l.includes('mail not sent; will retry') && l.includes('tls.ca_file')));
    assert.equal(smtp.messages.length, 0);
  });

  it('a wrong host name', async () => {
    const smtp = await s.capture({ tls: s.ca.serverOptions('wrong-host.test') });
    const { db, id } = await send(repo(smtp.port, 'starttls', trustingCa()), 'wrong host', retried);
    const row = getMail(db, id)!;
    assert.equal(row.status, 'pending');
    assert.match(row.lastError ?? '', /is for wrong-host\.test, not for 127\.0\.0\.1.*repos\.api\.email\.smtp_server/);
    assert.equal(smtp.messages.length, 0);
  });

  it('a server without STARTTLS: nothing is sent in plain text, not even AUTH', async () => {
    const smtp = await s.capture({ tls: s.ca.serverOptions('127.0.0.1'), hideStartTls: true });
    const recorder = await startClientBytesRecorder(smtp.port);
    try {
      const { db, id } = await send(repo(recorder.port, 'starttls', trustingCa()), 'no starttls', retried);
      const row = getMail(db, id)!;
      assert.equal(row.status, 'pending');
      assert.match(row.lastError ?? '', /does not offer STARTTLS.*nothing sent in plain text.*smtp_security: tls/);
      const sent = recorder.sent();
      assert.match(sent, /^EHLO /m);
      assert.doesNotMatch(sent, /AUTH|MAIL FROM|RCPT TO|Done\./i, sent);
      assert.equal(smtp.messages.length, 0);
    } finally {
      await recorder.close();
    }
  });
});

it('insecure_skip_verify: delivered to a server no CA here vouches for, with the warning at every connection', async () => {
  const smtp = await s.capture({ tls: s.unknownCa.serverOptions('127.0.0.1'), secure: true });
  const config = repo(smtp.port, 'tls', { caFile: null, caPem: null, insecureSkipVerify: true });
  const db = openDatabase(':memory:', { migrate: true });
  const { log, lines } = captureLog();
  await queueReply(db, 'first unverified');
  // The pool closes its connection after 50 ms idle, so the second send opens another.
  const sender = new OutgoingMailSender(db, { api: config }, log, { pollIntervalMs: 20, timeouts: { poolIdleMs: 50 } });
  sender.start();
  try {
    await smtp.waitFor((m) => /first unverified/.test(m.subject ?? ''));
    for (const end = Date.now() + 5000; smtp.openConnections > 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
    await queueReply(db, 'second unverified');
    sender.kick();
    await smtp.waitFor((m) => /second unverified/.test(m.subject ?? ''));
  } finally {
    await sender.stop();
  }
  const warnings = lines.filter((l) => l.includes(INSECURE_TLS_WARNING));
  assert.equal(smtp.connectionCount, 2);
  assert.equal(warnings.length, 2, lines.join(''));
});
