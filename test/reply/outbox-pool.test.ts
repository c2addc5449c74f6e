/**
 * The outbox's pooled SMTP connection, against real SMTP servers that count connections: sends
 * share one connection, an idle one is closed, a connection the server dropped before the body
 * is replaced at once (delivered exactly once), a connection lost after the body or a 5xx refusal
 * is left to the backoff, and shutdown or a reload of the repository's mail settings close it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { RepoServerConfig } from '../../src/config/types.ts';
import { OutgoingMailSender, type OutgoingMailSenderOptions } from '../../src/reply/outbox-sender.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { getMail } from '../../src/store/outgoing-mail.ts';
import { queueReply } from './queued-reply.ts';
import { captureLog } from '../harness/capture-log.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';

function repoConfig(port: number): RepoServerConfig {
  return testRepoServerConfig('api', {
    email: { smtpPort: port, login: { kind: 'password', password: 'pw' }, from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com' },
  });
}

let conversation = 0;

/** Queues a reply as the task runner does (task row and mail in one transaction); returns the mail id. */
async function queue(db: Db, subject: string): Promise<number> {
  return queueReply(db, { subject, conversationId: `c${++conversation}`, from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com' });
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withSender(
  fn: (s: { smtp: SmtpCapture; db: Db; sender: OutgoingMailSender; lines: string[] }) => Promise<void>,
  options: OutgoingMailSenderOptions = {},
): Promise<void> {
  const smtp = await startSmtpCapture();
  const db = openDatabase(':memory:', { migrate: true });
  const { log, lines } = captureLog();
  const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, log, options);
  try {
    await fn({ smtp, db, sender, lines });
  } finally {
    await sender.stop();
    await smtp.stop();
  }
}

/** The original subjects of the delivered replies, in order. */
const subjects = (smtp: SmtpCapture): Array<string | undefined> => smtp.messages.map((m) => m.subject?.replace(/^Re: \[ID:\w+\] /, ''));

test('two sends of a repository share one SMTP connection, which stays open for the next', async () => {
  await withSender(async ({ smtp, db, sender }) => {
    await queue(db, 'first');
    assert.equal((await sender.flush(10_000)).sent, 1);
    await queue(db, 'second');
    assert.equal((await sender.flush(10_000)).sent, 1);
    assert.equal(smtp.connectionCount, 1);
    assert.equal(smtp.openConnections, 1);
    assert.deepEqual(subjects(smtp), ['first', 'second']);
  });
});

test('an idle pooled connection is closed; the next send opens a new one', async () => {
  await withSender(
    async ({ smtp, db, sender }) => {
      await queue(db, 'before idle');
      assert.equal((await sender.flush(10_000)).sent, 1);
      await until(() => smtp.openConnections === 0, 'the idle connection to close');
      await queue(db, 'after idle');
      assert.equal((await sender.flush(10_000)).sent, 1);
      assert.equal(smtp.connectionCount, 2);
      assert.deepEqual(subjects(smtp), ['before idle', 'after idle']);
    },
    { timeouts: { poolIdleMs: 50 } },
  );
});

test('a pooled connection the server drops at MAIL FROM: the mail goes out at once on a new one, exactly once, in one attempt', async () => {
  await withSender(async ({ smtp, db, sender, lines }) => {
    await queue(db, 'warm up');
    await sender.flush(10_000);
    smtp.dropAtNextMailFrom();
    const id = await queue(db, 'after the drop');
    assert.equal((await sender.flush(10_000)).sent, 1);
    const row = getMail(db, id)!;
    assert.deepEqual([row.status, row.attempts], ['sent', 1]);
    assert.equal(smtp.connectionCount, 2);
    assert.deepEqual(subjects(smtp), ['warm up', 'after the drop']);
    assert.ok(lines.some((l) => l.includes('broke before the message was sent')), lines.join(''));
  });
});

test('a connection lost after the whole message was sent is not retried on the spot (the server may have it)', async () => {
  await withSender(async ({ smtp, db, sender }) => {
    const id = await queue(db, 'maybe delivered');
    const held = smtp.holdNext((raw) => raw.includes('maybe delivered'), 'kept');
    const flushed = sender.flush(10_000);
    await held.held;
    smtp.dropAll();
    await held.release();
    const result = await flushed;
    assert.equal(result.sent, 0);
    const row = getMail(db, id)!;
    assert.deepEqual([row.status, row.attempts], ['pending', 1], 'one failed attempt, left to the backoff');
    assert.equal(smtp.connectionCount, 1, 'no second connection was opened');
    assert.equal(smtp.messages.length, 1);
  });
});

test('a 5xx refusal is not sent again on the spot and keeps the connection; a 421 at MAIL FROM is', async () => {
  let connections = 0;
  let rcpts = 0;
  let mailFromReply: number | null = null;
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 100,
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username }),
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onMailFrom(_address, _session, callback) {
      const code = mailFromReply;
      mailFromReply = null;
      callback(code === null ? null : Object.assign(new Error('4.3.2 closing for maintenance'), { responseCode: code }));
    },
    onRcptTo(_address, _session, callback) {
      rcpts++;
      callback(Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  const db = openDatabase(':memory:', { migrate: true });
  const sender = new OutgoingMailSender(db, { api: repoConfig(port) }, captureLog().log);
  try {
    const refused = await queue(db, 'refused');
    await sender.flush(10_000);
    assert.deepEqual([getMail(db, refused)!.status, getMail(db, refused)!.attempts, rcpts, connections], ['pending', 1, 1, 1]);

    // 421 says the server is closing the channel: nothing about this message, and nothing of it sent.
    mailFromReply = 421;
    const closing = await queue(db, 'closing');
    await sender.flush(10_000);
    assert.equal(rcpts, 2, 'the mail was tried again at once, up to its RCPT TO');
    assert.equal(getMail(db, closing)!.attempts, 1);
    assert.equal(connections, 2, 'on a new connection');
  } finally {
    await sender.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('stopping the sender closes the pooled connection', async () => {
  await withSender(async ({ smtp, db, sender }) => {
    await queue(db, 'one');
    await sender.flush(10_000);
    assert.equal(smtp.openConnections, 1);
    await sender.stop();
    await until(() => smtp.openConnections === 0, 'the pool to close');
  });
});

test('a reload that changes the mail settings of a repository closes its pool; one that does not keeps it', async () => {
  await withSender(async ({ smtp, db, sender }) => {
    await queue(db, 'one');
    await sender.flush(10_000);
    const repos = { api: repoConfig(smtp.port) };
    sender.setRepos(repos, []);
    await queue(db, 'two');
    await sender.flush(10_000);
    assert.equal(smtp.connectionCount, 1);
    sender.setRepos(repos, ['api']);
    await until(() => smtp.openConnections === 0, 'the pool to close');
    await queue(db, 'three');
    assert.equal((await sender.flush(10_000)).sent, 1);
    assert.equal(smtp.connectionCount, 2);
  });
});
