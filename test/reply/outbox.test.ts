import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { RepoServerConfig } from '../../src/config/types.ts';
import { openDatabase, writeTransaction, type Db } from '../../src/store/database.ts';
import {
  duePendingMail,
  enqueueMail,
  getMail,
  listMailForTask,
  markSending,
  nextDueAt,
  pendingCount,
} from '../../src/store/outgoing-mail.ts';
import { composeMail, composeMailToFile, type ComposeBody, type ReplyAttachment } from '../../src/reply/compose.ts';
import { spoolDir } from '../../src/reply/spool.ts';
import crypto from 'node:crypto';
import { OutgoingMailSender, classifySendError, retryDelayMs, sleepUntilDue } from '../../src/reply/outbox-sender.ts';
import { smtpTransportOptions } from '../../src/reply/smtp-transport.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { captureLog } from '../harness/capture-log.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';

const PASSWORD = 'sm7p-Pa55word-xyz';
const MESSAGE_ID = /^<airut\.deadbeef\.\d+\.[0-9a-f]{8}@example\.com>$/;

function repoConfig(port: number, overrides: Partial<RepoServerConfig['email']> = {}): RepoServerConfig {
  return testRepoServerConfig('api', {
    gitRepoUrl: 'https://example.com/api.git',
    email: { smtpPort: port, login: { kind: 'password', password: PASSWORD }, from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com', ...overrides },
    authorizedSenders: ['alice@example.org'],
    trustedAuthservId: 'mx.example.com',
  });
}


function insertTask(db: Db, repoId = 'api', conversationId = 'deadbeef'): number {
  const msg = db
    .prepare(`INSERT INTO messages (repo_id, raw_sha256, size, raw, received_at) VALUES (?, ?, 1, x'00', 0)`)
    .run(repoId, `sha-${Math.random()}`);
  const task = db
    .prepare(
      `INSERT INTO tasks (repo_id, message_row, conversation_id, sender, subject, status, created_at)
       VALUES (?, ?, ?, 'alice@example.org', 'Fix the bug', 'running', 0)`,
    )
    .run(repoId, msg.lastInsertRowid, conversationId);
  return Number(task.lastInsertRowid);
}

async function queue(
  db: Db,
  taskId: number,
  body: ComposeBody,
  opts: { conversationId?: string; subject?: string; attachments?: ReplyAttachment[]; now?: number } = {},
): Promise<{ id: number; messageId: string }> {
  const conversationId = opts.conversationId ?? 'deadbeef';
  const mail = await composeMail({
    repoEmail: { from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com' },
    to: 'alice@example.org',
    conversationId,
    originalSubject: opts.subject ?? 'Fix the bug',
    inReplyTo: '<CAF00d@mail.example.org>',
    references: ['<root@mail.example.org>', '<airut.deadbeef.1700000000.0a0b0c0d@example.com>'],
    body,
    ...(opts.attachments ? { attachments: opts.attachments } : {}),
  });
  // As the task runner does: the reply is stored in the transaction that finishes the task.
  const id = writeTransaction(db, () => {
    db.prepare(`UPDATE tasks SET status = 'completed' WHERE id = ?`).run(taskId);
    return enqueueMail(
      db,
      {
        repoId: 'api',
        taskId,
        conversationId,
        kind: mail.kind,
        messageId: mail.messageId,
        recipient: 'alice@example.org',
        subject: mail.subject,
        raw: mail.raw,
      },
      opts.now ?? Date.now(),
    );
  });
  return { id, messageId: mail.messageId };
}

async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withCapture(
  fn: (smtp: SmtpCapture) => Promise<void>,
  authUsers: Record<string, string> | undefined = { bot: PASSWORD },
): Promise<void> {
  const smtp = await startSmtpCapture(authUsers ? { authUsers } : {});
  try {
    await fn(smtp);
  } finally {
    await smtp.stop();
  }
}

test('a reply arrives threaded, from the repo, with rendered markdown, footer and attachments', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const { log, lines } = captureLog();
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, log, { pollIntervalMs: 50 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-outbox-'));
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 10, 13]);
    fs.writeFileSync(path.join(dir, 'result.bin'), bytes);
    const taskId = insertTask(db);
    const md = 'Done.\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) and `code`\n';
    const { id, messageId } = await queue(
      db,
      taskId,
      { kind: 'reply', markdown: md, usage: { costUsd: 0.0123, turns: 4, durationMs: 72_000, model: 'sonnet' } },
      { attachments: [{ filename: 'result.bin', path: path.join(dir, 'result.bin') }, { filename: 'notes.md', content: '# notes\n' }] },
    );
    sender.start();
    const m = await smtp.waitFor(() => true);
    await sender.stop();

    // Stored and sent as composed: CRLF line ends throughout.
    assert.doesNotMatch(m.raw.toString('latin1'), /[^\r]\n/);
    // Envelope and AUTH: the repo's own account and address.
    assert.equal(m.authUser, 'bot');
    assert.equal(m.envelope.mailFrom, 'bot@example.com');
    assert.deepEqual(m.envelope.rcptTo, ['alice@example.org']);
    // Headers.
    assert.equal(m.from, 'bot@example.com');
    assert.match(m.header('from') ?? '', /^"?Airut Bot"? <bot@example\.com>$/);
    assert.deepEqual(m.to, ['alice@example.org']);
    assert.equal(m.subject, 'Re: [ID:deadbeef] Fix the bug');
    assert.equal(m.messageId, messageId);
    assert.match(m.messageId ?? '', MESSAGE_ID);
    assert.equal(m.inReplyTo, '<CAF00d@mail.example.org>');
    assert.deepEqual(m.references, [
      '<root@mail.example.org>',
      '<airut.deadbeef.1700000000.0a0b0c0d@example.com>',
      '<CAF00d@mail.example.org>',
    ]);
    assert.equal(m.header('auto-submitted'), 'auto-replied');
    assert.equal(m.header('x-airut-conversation'), 'deadbeef');
    assert.ok(m.headerLines.some((h) => h.key === 'date'));
    assert.ok(m.parsed.date instanceof Date && Math.abs(m.parsed.date.getTime() - Date.now()) < 60_000);
    // Bodies.
    assert.ok(m.text?.startsWith('Done.'));
    assert.match(m.text ?? '', /— Cost \$0\.0123 · 4 turns · 1m 12s · model sonnet/);
    assert.match(m.html ?? '', /— Cost \$0\.0123 · 4 turns · 1m 12s · model sonnet/);
    assert.doesNotMatch(m.html ?? '', /<script/i);
    assert.doesNotMatch(m.html ?? '', /href="javascript:/i);
    assert.match(m.html ?? '', /&lt;script&gt;/);
    // Attachments: names and bytes.
    const byName = new Map(m.attachments.map((a) => [a.filename, a.content]));
    assert.deepEqual(byName.get('result.bin'), bytes);
    assert.equal(byName.get('notes.md')?.toString(), '# notes\n');

    // The store says sent, once.
    const row = getMail(db, id);
    assert.equal(row?.status, 'sent');
    assert.equal(row?.attempts, 1);
    assert.ok(row?.sentAt);
    assert.equal(pendingCount(db), 0);
    assert.deepEqual(listMailForTask(db, taskId).map((r) => [r.kind, r.status]), [['reply', 'sent']]);
    assert.ok(lines.some((l) => l.includes('"mail sent"') && l.includes('"repo":"api"') && l.includes(`"task":${taskId}`)));
    assert.ok(!lines.some((l) => l.includes(PASSWORD)));
  });
});

test('CR/LF in the original subject does not create headers', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, captureLog().log, { pollIntervalMs: 50 });
    await queue(db, insertTask(db), { kind: 'reply', markdown: 'ok' }, {
      subject: 'Fix\r\nBcc: evil@example.com\r\nX-Injected: yes\nTo: mallory@example.com',
    });
    const r = await sender.flush(5000);
    assert.equal(r.sent, 1);
    const m = smtp.messages[0]!;
    assert.ok(!m.headerLines.some((h) => h.key === 'x-injected' || h.key === 'bcc'));
    assert.equal(m.headerLines.filter((h) => h.key === 'to').length, 1);
    assert.deepEqual(m.to, ['alice@example.org']);
    assert.deepEqual(m.envelope.rcptTo, ['alice@example.org']);
    assert.equal(m.subject, 'Re: [ID:deadbeef] Fix Bcc: evil@example.com X-Injected: yes To: mallory@example.com');
    await sender.stop();
  });
});

test('a refusing server: the mail stays pending with the error, then is delivered exactly once', async () => {
  await withCapture(async (smtp) => {
    let clock = Date.now();
    const db = openDatabase(':memory:', { migrate: true });
    const { log, lines } = captureLog();
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, log, {
      pollIntervalMs: 20,
      now: () => clock,
      random: () => 0.5,
    });
    smtp.setRefusing(true);
    const { id } = await queue(db, insertTask(db), { kind: 'reply', markdown: 'hello' }, { now: clock });
    sender.start();
    await until(() => (getMail(db, id)?.attempts ?? 0) > 0, 5000, 'a failed attempt');
    let row = getMail(db, id)!;
    assert.equal(row.status, 'pending');
    assert.match(row.lastError ?? '', /451/);
    assert.equal(row.nextAttemptAt, clock + 5000);
    assert.equal(smtp.messages.length, 0);
    assert.ok(lines.some((l) => l.includes('will retry') && l.includes('"repo":"api"')));

    // Not due yet: nothing more happens, even when kicked.
    smtp.setRefusing(false);
    sender.kick();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(smtp.messages.length, 0);
    assert.equal(getMail(db, id)!.attempts, 1);

    clock += 5000;
    sender.kick();
    await smtp.waitForCount(1);
    await until(() => getMail(db, id)?.status === 'sent', 5000, 'sent');
    // Several more rounds: still exactly one delivery.
    clock += 3600_000;
    await new Promise((r) => setTimeout(r, 200));
    await sender.stop();
    assert.equal(smtp.messages.length, 1);
    row = getMail(db, id)!;
    assert.equal(row.status, 'sent');
    assert.equal(row.attempts, 2);
  });
});

test('mails of one conversation are delivered in order even if the first failed once', async () => {
  await withCapture(async (smtp) => {
    let clock = Date.now();
    const db = openDatabase(':memory:', { migrate: true });
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, captureLog().log, {
      now: () => clock,
      random: () => 0.5,
    });
    const taskId = insertTask(db);
    smtp.setRefusing(true);
    const first = await queue(db, taskId, { kind: 'ack' }, { now: clock });
    const second = await queue(db, taskId, { kind: 'reply', markdown: 'the answer' }, { now: clock });
    // A mail of another conversation is not held up.
    const other = await queue(db, insertTask(db, 'api', 'cafef00d'), { kind: 'reply', markdown: 'other' }, {
      conversationId: 'cafef00d',
      now: clock,
    });
    assert.deepEqual(duePendingMail(db, clock, 10).map((m) => m.id), [first.id, other.id]);

    let r = await sender.flush(5000);
    assert.equal(r.sent, 0);
    assert.equal(getMail(db, first.id)!.attempts, 1);
    assert.equal(getMail(db, second.id)!.attempts, 0, 'the later mail waits for the earlier one');

    smtp.setRefusing(false);
    r = await sender.flush(5000);
    assert.equal(r.sent, 0, 'nothing is due: the first mail waits for its retry, the second waits for the first');
    assert.equal(r.remainingDue, 1);
    assert.equal(nextDueAt(db), clock + 5000, "the loop's next wake is the first mail's retry, not the second mail (due, but behind it)");

    clock += 10_000;
    r = await sender.flush(5000);
    assert.equal(r.sent, 3);
    assert.equal(r.remainingDue, 0);
    const ours = smtp.messages.filter((m) => m.header('x-airut-conversation') === 'deadbeef').map((m) => m.messageId);
    assert.deepEqual(ours, [first.messageId, second.messageId]);
    assert.equal(smtp.messages.length, 3);
    await sender.stop();
    await sender.stop();
  });
});

test('an idle loop sleeps until it is kicked or a mail falls due, not polling every pollIntervalMs', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, captureLog().log, { pollIntervalMs: 10, idlePollMs: 600_000 });
    try {
      sender.start();
      await new Promise((r) => setTimeout(r, 50));
      // Queued without a kick (every path that queues mail kicks; this one does not, on purpose).
      const quiet = await queue(db, insertTask(db), { kind: 'reply', markdown: 'quiet' });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(getMail(db, quiet.id)?.status, 'pending', 'no round ran: the loop sleeps (a 10 ms poll would have sent it 30 times over)');
      sender.kick();
      await until(() => getMail(db, quiet.id)?.status === 'sent', 5000, 'sent once kicked');

      // A mail due later: the round the kick runs finds nothing due and sleeps until its time.
      const later = await queue(db, insertTask(db, 'api', 'cafef00d'), { kind: 'reply', markdown: 'later' }, { conversationId: 'cafef00d', now: Date.now() + 400 });
      sender.kick();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(getMail(db, later.id)?.status, 'pending', 'not before its time');
      await until(() => getMail(db, later.id)?.status === 'sent', 5000, 'sent when due, with no kick');
      assert.equal(smtp.messages.length, 2);
    } finally {
      await sender.stop();
    }
  });
});

test('a wrong password is retried (configuration problem), and never logged', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const { log, lines } = captureLog();
    const wrong = 'Wr0ng-secret-pass';
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port, { login: { kind: 'password', password: wrong } }) }, log);
    const { id } = await queue(db, insertTask(db), { kind: 'reply', markdown: 'x' });
    await sender.flush(5000);
    const row = getMail(db, id)!;
    assert.equal(row.status, 'pending');
    assert.equal(row.attempts, 1);
    assert.match(row.lastError ?? '', /EAUTH|535/);
    assert.ok(!lines.some((l) => l.includes(wrong) || l.includes(PASSWORD)));
    assert.ok(!(row.lastError ?? '').includes(wrong));
    await sender.stop();
  });
});

test('a permanent rejection (550) is retried a few times, then the mail is marked failed', async () => {
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 100,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username });
    },
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error('5.1.1 recipient rejected'), { responseCode: 550 }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  try {
    let clock = Date.now();
    const db = openDatabase(':memory:', { migrate: true });
    const { log, lines } = captureLog();
    const sender = new OutgoingMailSender(db, { api: repoConfig(port) }, log, { now: () => clock, random: () => 0.5 });
    const { id } = await queue(db, insertTask(db), { kind: 'reply', markdown: 'x' }, { now: clock });
    for (let i = 1; i <= 2; i++) {
      await sender.flush(5000);
      assert.equal(getMail(db, id)!.status, 'pending');
      assert.equal(getMail(db, id)!.attempts, i);
      clock += 3600_000;
    }
    await sender.flush(5000);
    const row = getMail(db, id)!;
    assert.equal(row.status, 'failed');
    assert.equal(row.attempts, 3);
    assert.match(row.lastError ?? '', /550/);
    assert.equal(pendingCount(db, 'api'), 0);
    assert.ok(lines.some((l) => l.includes('giving up') && l.includes('"level":50')));
    await sender.stop();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('an unreachable server is a temporary failure, retried after 5 s', async () => {
  // A port with nothing listening.
  const probe = await startSmtpCapture();
  const port = probe.port;
  await probe.stop();
  const clock = Date.now();
  const db = openDatabase(':memory:', { migrate: true });
  const sender = new OutgoingMailSender(db, { api: repoConfig(port) }, captureLog().log, { now: () => clock, random: () => 0.5 });
  const { id } = await queue(db, insertTask(db), { kind: 'notice', markdown: 'x' }, { now: clock });
  await sender.flush(5000);
  const row = getMail(db, id)!;
  assert.equal(row.status, 'pending');
  assert.match(row.lastError ?? '', /ECONNECTION|ECONNREFUSED|ESOCKET/);
  assert.equal(row.nextAttemptAt - clock, 5000);
  await sender.stop();
  // flush after stop does nothing and says so.
  assert.deepEqual(await sender.flush(100), { sent: 0, failed: 0, remainingDue: 0 });
});

test('backoff doubles from 5 s and is capped at 15 min; errors are classified', () => {
  const fixed = () => 0.5;
  assert.deepEqual([1, 2, 3, 4].map((a) => retryDelayMs(a, 5000, 900_000, fixed)), [5000, 10_000, 20_000, 40_000]);
  assert.equal(retryDelayMs(20, 5000, 900_000, fixed), 900_000);
  assert.ok(retryDelayMs(1, 5000, 900_000, () => 0) >= 4000 && retryDelayMs(1, 5000, 900_000, () => 0.999) <= 6000);
  assert.equal(classifySendError({ code: 'EENVELOPE', responseCode: 550, response: '550 no such user' }).kind, 'permanent');
  assert.equal(classifySendError({ code: 'EMESSAGE', responseCode: 451, response: '451 later' }).kind, 'temporary');
  assert.equal(classifySendError({ code: 'EAUTH', responseCode: 535, response: '535 bad' }).kind, 'temporary');
  assert.equal(classifySendError({ code: 'ECONNECTION', message: 'refused' }).kind, 'temporary');
  assert.equal(classifySendError({ code: 'EENVELOPE', responseCode: 503 }).kind, 'temporary');
});

test('after a round a sender sleeps until the next item is due, within its shortest and longest wait', () => {
  const o = { pollIntervalMs: 1000, idlePollMs: 30_000, now: () => 1_000_000 };
  assert.equal(sleepUntilDue(() => null, o), 30_000, 'nothing pending: the safety poll');
  assert.equal(sleepUntilDue(() => 1_005_000, o), 5000, 'a retry in 5 s');
  assert.equal(sleepUntilDue(() => 1_000_200, o), 1000, 'never sooner than pollIntervalMs');
  assert.equal(sleepUntilDue(() => 999_000, o), 1000, 'due already (waiting behind another): pollIntervalMs');
  assert.equal(sleepUntilDue(() => 1_000_000 + 3600_000, o), 30_000, 'a retry in an hour: the safety poll first');
  assert.equal(
    sleepUntilDue(() => {
      throw new Error('SQLITE_BUSY');
    }, o),
    1000,
    'a store error: the short wait',
  );
});

test('transport options follow the repo security mode and verify certificates', () => {
  const tls = smtpTransportOptions(repoConfig(465, { smtpSecurity: 'tls', smtpServer: 'smtp.example.com' }));
  assert.equal(tls.secure, true);
  assert.equal(tls.tls?.rejectUnauthorized, true);
  assert.deepEqual(tls.auth, { user: 'bot', pass: PASSWORD });
  const starttls = smtpTransportOptions(repoConfig(587, { smtpSecurity: 'starttls', smtpServer: 'smtp.example.com' }));
  assert.equal(starttls.secure, false);
  assert.equal(starttls.requireTLS, true);
  const none = smtpTransportOptions(repoConfig(2525));
  assert.equal(none.secure, false);
  assert.equal(none.ignoreTLS, true);
  assert.equal(none.connectionTimeout, 30_000);
  assert.equal(none.greetingTimeout, 30_000);
  assert.equal(none.socketTimeout, 60_000);
});

test('enqueueing joins the caller transaction: a rollback leaves no mail', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = insertTask(db);
  assert.throws(() =>
    writeTransaction(db, () => {
      enqueueMail(db, {
        repoId: 'api',
        taskId,
        conversationId: 'deadbeef',
        kind: 'reply',
        messageId: '<a@example.com>',
        recipient: 'alice@example.org',
        subject: 's',
        raw: Buffer.from('x'),
      });
      throw new Error('task finish failed');
    }),
  );
  assert.equal(pendingCount(db), 0);
  assert.deepEqual(listMailForTask(db, taskId), []);
});

test('stop lets the mail in flight finish and record its outcome, then nothing more is sent', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, captureLog().log, { pollIntervalMs: 20 });
    const ids: number[] = [];
    for (const c of ['aaaaaaa1', 'aaaaaaa2', 'aaaaaaa3', 'aaaaaaa4']) {
      ids.push((await queue(db, insertTask(db, 'api', c), { kind: 'reply', markdown: c }, { conversationId: c })).id);
    }
    sender.start();
    await smtp.waitForCount(1);
    await Promise.all([sender.stop(), sender.stop()]);
    const delivered = new Set(smtp.messages.map((m) => m.messageId));
    for (const id of ids) {
      const row = getMail(db, id)!;
      // Whatever the server accepted is recorded as sent; the rest is still pending, not lost.
      assert.equal(row.status, delivered.has(row.messageId) ? 'sent' : 'pending');
    }
    const count = smtp.messages.length;
    sender.kick();
    sender.start();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(smtp.messages.length, count);
  });
});

test('a send is marked in flight before the first byte and cleared with its outcome; a mail a crash left in flight goes out again, logged as possibly duplicated', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const { log, lines } = captureLog();
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, log, { pollIntervalMs: 20 });
    const hold = smtp.holdNext(() => true, 'unconfirmed');
    const first = await queue(db, insertTask(db), { kind: 'reply', markdown: 'first' });
    sender.start();
    await hold.held;
    assert.notEqual(getMail(db, first.id)!.sendingSince, null, 'marked while the server has not answered');
    assert.deepEqual(await hold.release(), { delivered: true });
    await until(() => getMail(db, first.id)?.status === 'sent', 5000, 'sent');
    assert.equal(getMail(db, first.id)!.sendingSince, null);
    await sender.stop();

    // What a process killed during the SMTP dialogue leaves behind: a pending mail still marked.
    const second = await queue(db, insertTask(db, 'api', 'cafef00d'), { kind: 'reply', markdown: 'second' }, { conversationId: 'cafef00d' });
    markSending(db, second.id, Date.now() - 1000);
    const next = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, log);
    const r = await next.flush(5000);
    assert.equal(r.sent, 1);
    const row = getMail(db, second.id)!;
    assert.equal(row.status, 'sent');
    assert.equal(row.sendingSince, null);
    assert.equal(smtp.messages.filter((m) => m.messageId === second.messageId).length, 1);
    const warning = lines.find((l) => l.includes(second.messageId) && l.includes('may get it twice'));
    assert.ok(warning, 'the resend of an in-doubt mail is logged');
    assert.match(warning, /"level":40/);
    await next.stop();
  });
});

test('a start makes mail waiting for a retry due at once, oldest of a conversation first', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const taskId = insertTask(db);
    const first = await queue(db, taskId, { kind: 'ack' });
    const second = await queue(db, taskId, { kind: 'reply', markdown: 'answer' });
    // As a previous process left them after failed attempts: retries far in the future.
    db.prepare(`UPDATE outgoing_mail SET attempts = 6, next_attempt_at = ?`).run(Date.now() + 15 * 60_000);
    const sender = new OutgoingMailSender(db, { api: repoConfig(smtp.port) }, captureLog().log, { pollIntervalMs: 20 });
    sender.start();
    await smtp.waitForCount(2);
    assert.deepEqual(smtp.messages.map((m) => m.messageId), [first.messageId, second.messageId]);
    await sender.stop();
  });
});

test('a reply with attachments is spooled to a file, streamed to SMTP from there, and the file removed once sent', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const { log } = captureLog();
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-spool-'));
    const repo = { ...repoConfig(smtp.port), storageDir: storage };
    const data = crypto.randomBytes(3 * 1024 * 1024);
    const src = path.join(storage, 'result.bin');
    fs.writeFileSync(src, data);
    // An orphan from a crash between writing a spool file and committing its row, old enough to sweep.
    fs.mkdirSync(spoolDir(storage), { recursive: true });
    const orphan = path.join(spoolDir(storage), 'task-0-orphan.eml');
    fs.writeFileSync(orphan, 'x');
    fs.utimesSync(orphan, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));

    const taskId = insertTask(db);
    const mail = await composeMailToFile(
      {
        repoEmail: { from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com' },
        to: 'alice@example.org',
        conversationId: 'deadbeef',
        originalSubject: 'Fix the bug',
        inReplyTo: '<CAF00d@mail.example.org>',
        body: { kind: 'reply', markdown: 'Done.' },
        attachments: [{ filename: 'result.bin', content: fs.createReadStream(src) }],
      },
      spoolDir(storage),
      `task-${taskId}`,
    );
    assert.ok(mail.raw.size > data.length * 1.3, 'the spool file holds the encoded attachment');
    assert.equal(fs.statSync(mail.raw.path).mode & 0o777, 0o600);
    const id = writeTransaction(db, () =>
      enqueueMail(db, { repoId: 'api', taskId, conversationId: 'deadbeef', kind: mail.kind, messageId: mail.messageId, recipient: 'alice@example.org', subject: mail.subject, raw: mail.raw }),
    );
    const row = db.prepare('SELECT length(raw) AS n FROM outgoing_mail WHERE id = ?').get(id) as { n: number };
    assert.equal(row.n, 0, 'the message bytes are not in the database');
    assert.equal(getMail(db, id)!.size, mail.raw.size);

    const sender = new OutgoingMailSender(db, { api: repo }, log, { pollIntervalMs: 50 });
    sender.start();
    const m = await smtp.waitFor(() => true);
    await until(() => getMail(db, id)!.status === 'sent', 5000, 'the mail to be marked sent');
    await sender.stop();
    assert.equal(m.messageId, mail.messageId);
    const att = m.attachments.find((a) => a.filename === 'result.bin');
    assert.ok(att && att.content.equals(data), 'the attachment arrives intact');
    await until(() => !fs.existsSync(mail.raw.path), 2000, 'the spool file to be removed');
    assert.equal(fs.existsSync(orphan), false, 'the orphan spool file was swept at start');
  });
});

test('a spooled mail whose file is gone is given up at once, with the reason stored', async () => {
  await withCapture(async (smtp) => {
    const db = openDatabase(':memory:', { migrate: true });
    const { log } = captureLog();
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-spool-'));
    const taskId = insertTask(db);
    const id = writeTransaction(db, () =>
      enqueueMail(db, {
        repoId: 'api', taskId, conversationId: 'deadbeef', kind: 'reply', messageId: '<x@example.com>', recipient: 'alice@example.org',
        subject: 's', raw: { path: path.join(spoolDir(storage), 'gone.eml'), size: 10 },
      }),
    );
    const sender = new OutgoingMailSender(db, { api: { ...repoConfig(smtp.port), storageDir: storage } }, log, { pollIntervalMs: 50 });
    sender.start();
    await until(() => getMail(db, id)!.status === 'failed', 5000, 'the mail to fail');
    await sender.stop();
    assert.match(getMail(db, id)!.lastError ?? '', /cannot be read \(ENOENT\)/);
    assert.equal(smtp.messages.length, 0);
  });
});
