import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { acceptMail } from '../../src/store/accept.ts';
import type { IncomingMail } from '../../src/protocol/incoming-mail.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { getMail, listMailForTask } from '../../src/store/outgoing-mail.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { claimNextTask, finishTask } from '../../src/store/task-queue.ts';
import { inboundMailOf, readTaskMail, type InboundMail } from '../../src/reply/inbound-mail.ts';
import { NO_CONVERSATION_ID, queueReply, type ReplyRepo } from '../../src/reply/queue-reply.ts';
import { spoolDir } from '../../src/reply/spool.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

const T0 = Date.UTC(2024, 4, 6, 10, 0, 0);

function setup(): { db: Db; repo: ReplyRepo; storage: string } {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-queue-reply-'));
  const repo = testRepoServerConfig('api', { storageDir: storage, email: { from: 'Airut Bot <bot@example.com>', fromAddress: 'bot@example.com' } });
  return { db: openDatabase(':memory:', { migrate: true }), repo, storage };
}

const RAW = [
  'From: Alice <alice@example.org>',
  'To: bot@example.com',
  'Subject: =?UTF-8?Q?Fix_the_b=C3=BCg?=',
  'Message-ID: <CAF00d@mail.example.org>',
  'References: <root@mail.example.org>',
  '  <airut.deadbeef.1700000000.0a0b0c0d@example.com>',
  '',
  'Please fix it.',
  '',
].join('\r\n');

/** A queued task recorded the way the supervisor records one. */
function recordTask(db: Db, raw = RAW): number {
  const mail: IncomingMail = {
    repoId: 'api',
    raw: Buffer.from(raw),
    imapUid: 1,
    messageId: '<CAF00d@mail.example.org>',
    subject: 'Fix the bug',
    sender: 'alice@example.org',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  };
  const out = acceptMail(db, mail, T0);
  assert.equal(out.kind, 'queued');
  return out.taskId;
}

const inbound: InboundMail = {
  sender: 'alice@example.org',
  subject: 'Re: Fix the bug',
  messageId: '<CAF00d@mail.example.org>',
  references: ['<root@mail.example.org>'],
};

function spoolFiles(storage: string): string[] {
  return fs.existsSync(spoolDir(storage)) ? fs.readdirSync(spoolDir(storage)) : [];
}

test('readTaskMail reads the sender, subject, Message-ID and References of a task\'s mail; null for a task that does not exist', async () => {
  const { db } = setup();
  const taskId = recordTask(db);
  const read = await readTaskMail(db, taskId);
  assert.ok(read);
  assert.equal(read.task.id, taskId);
  assert.match(read.parsed.bodyText, /Please fix it\./);
  assert.deepEqual(read.inbound, {
    sender: 'alice@example.org',
    subject: 'Fix the büg',
    messageId: '<CAF00d@mail.example.org>',
    references: ['<root@mail.example.org>', '<airut.deadbeef.1700000000.0a0b0c0d@example.com>'],
  });
  assert.equal(await readTaskMail(db, taskId + 1), null);
});

test('inboundMailOf takes the facts a listener outline gives, with no References as none', () => {
  assert.deepEqual(inboundMailOf('a@x.example', { subject: 's', messageId: null }), { sender: 'a@x.example', subject: 's', messageId: null, references: [] });
});

test('a reply is queued for its task, threaded, in the transaction that finishes the task', async () => {
  const { db, repo } = setup();
  const taskId = recordTask(db);
  const run = claimNextTask(db)!;
  const { mail, value } = await queueReply(db, repo, { inReplyTo: inbound, conversationId: 'deadbeef', body: { kind: 'reply', markdown: 'Done.' } }, () => {
    finishTask(db, taskId, { status: 'running', attempt: run.task.attempts }, { status: 'completed', error: null });
    return { queue: true, taskId, value: 'finished' };
  });
  assert.equal(value, 'finished');
  assert.ok(mail);
  assert.equal(getTask(db, taskId)!.status, 'completed');
  const rows = listMailForTask(db, taskId);
  assert.equal(rows.length, 1);
  const row = rows[0]!;
  assert.deepEqual(
    { repoId: row.repoId, conversationId: row.conversationId, kind: row.kind, recipient: row.recipient, subject: row.subject, messageId: row.messageId, status: row.status },
    { repoId: 'api', conversationId: 'deadbeef', kind: 'reply', recipient: 'alice@example.org', subject: 'Re: [ID:deadbeef] Fix the bug', messageId: mail.messageId, status: 'pending' },
  );
  assert.match(row.messageId, /^<airut\.deadbeef\.\d+\.[0-9a-f]{8}@example\.com>$/);
  const parsed = await simpleParser(getMail(db, row.id)!.raw);
  assert.equal(parsed.inReplyTo, '<CAF00d@mail.example.org>');
  assert.deepEqual(parsed.references, ['<root@mail.example.org>', '<CAF00d@mail.example.org>']);
  assert.equal(parsed.headers.get('x-airut-conversation'), 'deadbeef');
  assert.equal(parsed.headers.get('auto-submitted'), 'auto-replied');
  assert.equal(parsed.from?.text, '"Airut Bot" <bot@example.com>');
  assert.match(parsed.text ?? '', /Done\./);
});

test('the subject tag names the thread\'s conversation while the row is filed under none; with neither, the placeholder', async () => {
  const { db, repo } = setup();
  const taskId = recordTask(db);
  const body = { kind: 'error', message: 'Too many tasks.' } as const;
  const queued = () => ({ queue: true as const, taskId, value: undefined });
  await queueReply(db, repo, { inReplyTo: inbound, conversationId: null, threadConversationId: 'c0ffee00', body, now: T0 }, queued);
  await queueReply(db, repo, { inReplyTo: inbound, conversationId: null, threadConversationId: null, body, now: T0 }, queued);
  const [tagged, untagged] = listMailForTask(db, taskId);
  assert.equal(tagged!.conversationId, null);
  assert.equal(tagged!.subject, 'Re: [ID:c0ffee00] Fix the bug');
  assert.equal(untagged!.conversationId, null);
  assert.equal(NO_CONVERSATION_ID, '00000000');
  assert.equal(untagged!.subject, `Re: [ID:${NO_CONVERSATION_ID}] Fix the bug`);
  const parsed = await simpleParser(getMail(db, tagged!.id)!.raw);
  assert.equal(parsed.date?.getTime(), T0, 'composed at the given time');
  assert.equal(parsed.headers.get('x-airut-kind'), 'error');
});

test('a reply with attachments goes through a spool file named after the task', async () => {
  const { db, repo } = setup();
  const taskId = recordTask(db);
  const { mail } = await queueReply(
    db,
    repo,
    { inReplyTo: inbound, conversationId: 'deadbeef', body: { kind: 'reply', markdown: 'See attached.' }, attachments: [{ filename: 'out.txt', content: 'hello' }], spoolStem: `task-${taskId}` },
    () => ({ queue: true, taskId, value: undefined }),
  );
  assert.ok(mail && !Buffer.isBuffer(mail.raw));
  assert.ok(path.basename(mail.raw.path).startsWith(`task-${taskId}-`));
  const stored = getMail(db, listMailForTask(db, taskId)[0]!.id)!;
  assert.equal(stored.rawPath, mail.raw.path);
  const parsed = await simpleParser(fs.readFileSync(mail.raw.path));
  assert.equal(parsed.attachments[0]?.filename, 'out.txt');
  assert.equal(parsed.attachments[0]?.content.toString(), 'hello');
});

test('a decision not to queue keeps the writes made with it, queues nothing and removes the spool file', async () => {
  const { db, repo, storage } = setup();
  const taskId = recordTask(db);
  const { mail, value } = await queueReply(
    db,
    repo,
    { inReplyTo: inbound, conversationId: 'deadbeef', body: { kind: 'reply', markdown: 'x' }, attachments: [{ filename: 'a.txt', content: 'a' }] },
    () => {
      finishTask(db, taskId, { status: 'queued', attempt: 0 }, { status: 'cancelled', error: 'gone' });
      return { queue: false, value: 'skipped' };
    },
  );
  assert.equal(mail, null);
  assert.equal(value, 'skipped');
  assert.equal(getTask(db, taskId)!.status, 'cancelled');
  assert.equal(listMailForTask(db, taskId).length, 0);
  assert.deepEqual(spoolFiles(storage), []);
});

test('a transaction that fails rolls back the writes made with the mail, leaves no spool file and rethrows', async () => {
  const { db, repo, storage } = setup();
  const taskId = recordTask(db);
  await assert.rejects(
    queueReply(
      db,
      repo,
      { inReplyTo: inbound, conversationId: 'deadbeef', body: { kind: 'reply', markdown: 'x' }, attachments: [{ filename: 'a.txt', content: 'a' }] },
      () => {
        finishTask(db, taskId, { status: 'queued', attempt: 0 }, { status: 'cancelled', error: null });
        throw new Error('disk I/O error');
      },
    ),
    /disk I\/O error/,
  );
  assert.equal(getTask(db, taskId)!.status, 'queued');
  assert.equal(listMailForTask(db, taskId).length, 0);
  assert.deepEqual(spoolFiles(storage), []);
});

test('queueReply is the only code in src/ that inserts mail into the outbox', () => {
  const root = path.resolve(import.meta.dirname, '../../src');
  const allowed = new Set(['store/outgoing-mail.ts', 'reply/queue-reply.ts']);
  const offenders = (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !allowed.has(f.split(path.sep).join('/')))
    .filter((f) => /\benqueueMail\b|INSERT\s+INTO\s+outgoing_mail/i.test(fs.readFileSync(path.join(root, f), 'utf8')));
  assert.deepEqual(offenders, []);
});

test('every queued mail keeps its body as written: a reply its markdown with the footer, an error its text, an ack and a notice theirs', async () => {
  const { db, repo } = setup();
  const taskId = recordTask(db);
  const queued = () => ({ queue: true as const, taskId, value: undefined });
  const to = { inReplyTo: inbound, conversationId: 'deadbeef' };
  const markdown = '**Done.**\n\n```sh\nnpm test\n```\n\n<script>alert(1)</script>';
  await queueReply(db, repo, { ...to, body: { kind: 'ack', dashboardUrl: 'https://airut.example/c' } }, queued);
  await queueReply(db, repo, { ...to, body: { kind: 'reply', markdown, usage: { costUsd: 0.5, turns: 3 } } }, queued);
  await queueReply(db, repo, { ...to, body: { kind: 'error', message: 'Claude Code did not finish the task: boom\nsecond line' } }, queued);
  await queueReply(db, repo, { ...to, body: { kind: 'notice', markdown: 'This task was **stopped**.' }, attachments: [{ filename: 'a.txt', content: 'a' }] }, queued);
  const rows = listMailForTask(db, taskId);
  assert.deepEqual(rows.map((r) => r.kind), ['ack', 'reply', 'error', 'notice']);
  assert.match(rows[0]!.bodyMarkdown!, /^Working on it — conversation deadbeef[^]*Progress: https:\/\/airut\.example\/c$/);
  assert.equal(rows[1]!.bodyMarkdown, `${markdown}\n\n— Cost $0.5000 · 3 turns`);
  assert.equal(rows[2]!.bodyMarkdown, 'Claude Code did not finish the task: boom\nsecond line');
  assert.equal(rows[3]!.bodyMarkdown, 'This task was **stopped**.', 'also for a mail spooled with attachments');
  // It is the text/plain part as sent, not a second rendering of it.
  const sent = await simpleParser(getMail(db, rows[1]!.id)!.raw);
  assert.equal(sent.text?.trimEnd(), rows[1]!.bodyMarkdown);
});
