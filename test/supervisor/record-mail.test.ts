import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import type { MailLimits, RepoServerConfig } from '../../src/config/types.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import type { IncomingMail } from '../../src/protocol/incoming-mail.ts';
import { getMail, listMailForTask } from '../../src/store/outgoing-mail.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { recordMail, recordMails, type RecordOutcome } from '../../src/supervisor/record-mail.ts';
import { RATE_WINDOW_MS } from '../../src/limits/rate-limit.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { readHeaderLines } from '../../src/email/headers.ts';

const T0 = Date.UTC(2024, 4, 6, 10, 0, 0);
const limits: MailLimits = { maxMessageBytes: 1000, maxAttachmentBytes: 300, maxAttachments: 2, tasksPerHour: 4, tasksPerSenderPerHour: 2 };

function repo(repoId = 'api', overrides: Partial<MailLimits> = {}): RepoServerConfig {
  return testRepoServerConfig(repoId, { limits: { ...limits, ...overrides } });
}

let n = 0;
function mail(overrides: Partial<IncomingMail> = {}): IncomingMail {
  n++;
  return {
    repoId: 'api',
    raw: Buffer.from(`From: alice@example.com\r\nMessage-ID: <m${n}@example.com>\r\nSubject: task ${n}\r\n\r\nplease ${n}\r\n`),
    imapUid: n,
    messageId: `<m${n}@example.com>`,
    subject: `task ${n}`,
    sender: 'alice@example.com',
    references: ['<root@example.com>'],
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
    ...overrides,
  };
}

const tooLarge = (): IncomingMail['verdict'] => ({
  action: 'reject',
  reason: 'too_large',
  detail: 'Too large: the mail is 2 KiB; the limit is 1000 bytes (max_message_bytes).',
  limit: { limit: 'max_message_bytes', actual: 2048, allowed: 1000 },
});

/** The task a recorded mail became (a dropped one has none). */
function idOf(o: RecordOutcome): number {
  if (o.kind === 'dropped') assert.fail('the mail was dropped, not recorded');
  return o.taskId;
}

async function replyOf(db: Db, taskId: number) {
  const rows = listMailForTask(db, taskId);
  assert.equal(rows.length, 1, `expected one reply for task ${taskId}, got ${rows.length}`);
  const raw = getMail(db, rows[0]!.id)!.raw;
  return { row: rows[0]!, raw, parsed: await simpleParser(raw) };
}

test('a too-large mail from an authorized sender is recorded and gets one threaded error reply with the figures', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const m = mail({ verdict: tooLarge(), size: 2048, headersOnly: true });
  const out = await recordMail(db, repo(), m, T0);
  assert.equal(out.kind, 'rejected');
  assert.equal(out.replyQueued, true);
  const task = getTask(db, out.taskId)!;
  assert.equal(task.status, 'rejected');
  assert.equal(task.reason, 'too_large');
  const size = db.prepare('SELECT size FROM messages').get() as { size: number };
  assert.equal(size.size, 2048, 'the record keeps the real size of a header-only mail');
  const { row, parsed } = await replyOf(db, out.taskId);
  assert.equal(row.recipient, 'alice@example.com');
  assert.equal(row.kind, 'error');
  assert.equal(parsed.headers.get('x-airut-kind'), 'error');
  assert.equal(parsed.inReplyTo, m.messageId);
  assert.deepEqual(parsed.references, ['<root@example.com>', m.messageId]);
  assert.equal(parsed.subject, `Re: [ID:00000000] ${m.subject}`);
  assert.match(parsed.text ?? '', /it is 2 KiB \(2048 bytes\), and this repository accepts mail of at most 1000 bytes\./);

  // The same mail fetched again (crash before the delete): no second record, no second reply.
  const again = await recordMail(db, repo(), m, T0 + 1000);
  assert.equal(again.kind, 'duplicate');
  assert.equal(again.replyQueued, false);
  assert.equal((db.prepare('SELECT count(*) AS c FROM outgoing_mail').get() as { c: number }).c, 1);
});

test('a reply about a limit stays in the conversation the mail belongs to', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  db.prepare(`INSERT INTO conversations (repo_id, id, created_at, last_activity_at) VALUES ('api', 'abcdef12', 0, 0)`).run();
  const out = await recordMail(db, repo(), mail({ verdict: tooLarge(), conversationCandidates: ['99999999', 'abcdef12'] }), T0);
  const { parsed } = await replyOf(db, idOf(out));
  assert.match(parsed.subject ?? '', /^Re: \[ID:abcdef12\] /);
});

test('over the sender rate: recorded as rate_limited, one reply with the retry time, then silence for the hour', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const r = repo();
  for (let i = 0; i < 2; i++) assert.equal((await recordMail(db, r, mail(), T0 + i * 60_000)).kind, 'queued');
  const limited = await recordMail(db, r, mail(), T0 + 5 * 60_000);
  assert.equal(limited.kind, 'rejected');
  assert.equal(limited.replyQueued, true);
  assert.equal(getTask(db, limited.taskId)!.reason, 'rate_limited');
  assert.match(getTask(db, limited.taskId)!.detail ?? '', /^Rate limited: 2 tasks .* from this sender; the limit is 2 \(tasks_per_sender_per_hour\)\. Retry after 2024-05-06 11:00 UTC\.$/);
  const { parsed } = await replyOf(db, limited.taskId);
  assert.match(parsed.text ?? '', /Send it again after 2024-05-06 11:00 UTC \(in about 55 minutes\)/);

  // A flood: each one recorded, none answered.
  for (let i = 0; i < 20; i++) {
    const out = await recordMail(db, r, mail(), T0 + 6 * 60_000 + i);
    assert.equal(out.kind, 'rejected');
    assert.equal(out.replyQueued, false);
  }
  assert.equal((db.prepare('SELECT count(*) AS c FROM outgoing_mail').get() as { c: number }).c, 1);
  assert.equal((db.prepare(`SELECT count(*) AS c FROM tasks WHERE reason = 'rate_limited'`).get() as { c: number }).c, 21);

  // Someone else in the same repo, and the same sender in another repo, are not affected.
  assert.equal((await recordMail(db, r, mail({ sender: 'bob@example.com' }), T0 + 7 * 60_000)).kind, 'queued');
  assert.equal((await recordMail(db, repo('web'), mail({ repoId: 'web' }), T0 + 7 * 60_000)).kind, 'queued');

  // After the hour the sender is accepted again.
  assert.equal((await recordMail(db, r, mail(), T0 + RATE_WINDOW_MS + 1)).kind, 'queued');
});

test('over the repo rate: every sender is refused, each told once', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const r = repo('api', { tasksPerSenderPerHour: null });
  for (let i = 0; i < 4; i++) assert.equal((await recordMail(db, r, mail({ sender: `u${i}@example.com` }), T0 + i)).kind, 'queued');
  const a = await recordMail(db, r, mail({ sender: 'carol@example.com' }), T0 + 10);
  const b = await recordMail(db, r, mail({ sender: 'dave@example.com' }), T0 + 11);
  const a2 = await recordMail(db, r, mail({ sender: 'carol@example.com' }), T0 + 12);
  assert.deepEqual([a.replyQueued, b.replyQueued, a2.replyQueued], [true, true, false]);
  assert.match((await replyOf(db, idOf(a))).parsed.text ?? '', /This repository has accepted 4 tasks in the last hour/);
});

test('a rate limit takes precedence over a size refusal, so a flood of big mail gets one reply too', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const r = repo();
  const first = await recordMail(db, r, mail({ verdict: tooLarge() }), T0);
  const second = await recordMail(db, r, mail({ verdict: tooLarge() }), T0 + 1);
  assert.deepEqual([first.replyQueued, second.replyQueued], [true, true]);
  const outs = [];
  for (let i = 0; i < 5; i++) outs.push(await recordMail(db, r, mail({ verdict: tooLarge() }), T0 + 10 + i));
  assert.deepEqual(outs.map((o) => o.replyQueued), [true, false, false, false, false]);
  assert.deepEqual(outs.map((o) => getTask(db, idOf(o))!.reason), Array(5).fill('rate_limited'));
});

test('mail from unauthenticated or unauthorized senders is never answered, whatever the limits', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const r = repo('api', { tasksPerSenderPerHour: 1, tasksPerHour: 1 });
  await recordMail(db, r, mail(), T0);
  for (const reason of ['auth_failed', 'unauthorized', 'loop', 'malformed'] as const) {
    const out = await recordMail(db, r, mail({ verdict: { action: 'reject', reason, detail: 'no' } }), T0 + 1);
    assert.equal(out.kind, 'rejected');
    assert.equal(out.replyQueued, false);
    assert.equal(getTask(db, out.taskId)!.reason, reason);
  }
  const noSender = await recordMail(db, r, mail({ sender: null, verdict: tooLarge() }), T0 + 2);
  assert.equal(noSender.replyQueued, false);
  assert.equal((db.prepare('SELECT count(*) AS c FROM outgoing_mail').get() as { c: number }).c, 0);
});

test('a subject carrying CR/LF cannot add headers to the reply', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const evil = 'Fix it\r\nBcc: victim@evil.example\r\nX-Injected: 1\nContent-Type: text/html';
  const out = await recordMail(db, repo(), mail({ subject: evil, verdict: tooLarge() }), T0);
  const { raw, parsed } = await replyOf(db, idOf(out));
  const names = readHeaderLines(raw).map((h) => h.name.toLowerCase());
  assert.ok(!names.includes('bcc') && !names.includes('x-injected'), names.join(', '));
  assert.equal(names.filter((h) => h === 'content-type').length, 1);
  assert.match(parsed.subject ?? '', /^Re: \[ID:00000000\] Fix it Bcc: victim@evil\.example X-Injected: 1 Content-Type: text\/html$/);
});

test('a batch is recorded exactly as one mail after the other: rate limits count the batch, replies are queued, duplicates found', async () => {
  const r = repo();
  const unauthorized = (): IncomingMail['verdict'] => ({ action: 'reject', reason: 'unauthorized', detail: 'not on the list' });
  const build = () => {
    const first = mail();
    return [
      first,
      mail({ verdict: unauthorized(), sender: null }),
      mail(),
      mail(), // third accepted one from alice: over tasks_per_sender_per_hour (2), answered once
      mail(), // and again: refused, not answered
      { ...first }, // the first one fetched again in the same batch
      mail({ sender: 'bob@example.com', verdict: tooLarge(), size: 2048, headersOnly: true }),
      mail({ sender: 'bob@example.com' }),
    ];
  };
  const batch = build();
  const batchDb = openDatabase(':memory:', { migrate: true });
  const together = await recordMails(batchDb, r, batch, T0);
  const oneByOneDb = openDatabase(':memory:', { migrate: true });
  const oneByOne = [];
  for (const m of batch) oneByOne.push(await recordMail(oneByOneDb, r, m, T0));

  const shape = (o: RecordOutcome) => [o.kind, idOf(o), o.replyQueued, o.verdict.action === 'reject' ? o.verdict.reason : 'accept'];
  assert.deepEqual(together.map(shape), oneByOne.map(shape));
  assert.deepEqual(together.map(shape), [
    ['queued', 1, false, 'accept'],
    ['rejected', 2, false, 'unauthorized'],
    ['queued', 3, false, 'accept'],
    ['rejected', 4, true, 'rate_limited'],
    ['rejected', 5, false, 'rate_limited'],
    ['duplicate', 1, false, 'accept'],
    ['rejected', 6, true, 'too_large'],
    ['queued', 7, false, 'accept'],
  ]);
  const tables = (db: Db) =>
    ['tasks', 'messages', 'outgoing_mail', 'limit_notices'].map((t) => (db.prepare(`SELECT count(*) AS c FROM ${t}`).get() as { c: number }).c);
  assert.deepEqual(tables(batchDb), [7, 7, 2, 1]);
  assert.deepEqual(tables(batchDb), tables(oneByOneDb));
  assert.match((await replyOf(batchDb, 4)).parsed.text ?? '', /Send it again after/);
});

test('rejected mail from a source over per_source_per_hour is counted, not stored, never answered; other sources still recorded', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const r = repo();
  const policy = { maxStoredBytesPerDay: 1_000_000, perSourcePerHour: 3 };
  const spoof = (sender: string, sourceIp: string | null = null): IncomingMail =>
    mail({ sender, sourceIp, verdict: { action: 'reject', reason: 'auth_failed', detail: 'dmarc=fail' } });
  const flood = Array.from({ length: 8 }, () => spoof('mallory@evil.example', '203.0.113.9'));
  // The same server rotating From addresses, and one unrelated outsider in the middle of it.
  const rotating = [spoof('m1@evil.example', '203.0.113.9'), spoof('eve@other.example', '198.51.100.2')];
  const out = await recordMails(db, r, [...flood, ...rotating], T0, policy);
  assert.deepEqual(out.map((o) => o.kind), ['rejected', 'rejected', 'rejected', ...Array(5).fill('dropped'), 'dropped', 'rejected']);
  // The first drop of the day is flagged for the once-a-day log line, no other.
  assert.deepEqual(out.map((o) => o.kind === 'dropped' && o.firstOfDay === true), out.map((_, i) => i === 3));
  assert.equal((db.prepare(`SELECT count(*) AS c FROM tasks`).get() as { c: number }).c, 4);
  assert.equal((db.prepare(`SELECT count(*) AS c FROM messages`).get() as { c: number }).c, 4);
  assert.equal((db.prepare(`SELECT dropped FROM rejected_mail_days`).get() as { dropped: number }).dropped, 6);
  assert.equal((db.prepare('SELECT count(*) AS c FROM outgoing_mail').get() as { c: number }).c, 0);
  // One by one (recordMail) decides the same; an hour later the source is recorded again.
  assert.equal((await recordMail(db, r, spoof('mallory@evil.example'), T0 + 1, policy)).kind, 'dropped');
  assert.equal((await recordMail(db, r, spoof('mallory@evil.example'), T0 + RATE_WINDOW_MS + 1, policy)).kind, 'rejected');
  // Authorized senders' mail is not affected by the outsiders' counts.
  assert.equal((await recordMail(db, r, mail({ sender: 'alice@example.com' }), T0 + 2, policy)).kind, 'queued');
});

test('a mail that would go over a spending cap is recorded, does not run, and its sender is answered once with the figures', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const budget = { taskUsd: 1, senderPerDayUsd: 2.5, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null };
  const r: RepoServerConfig = { ...repo('api', { tasksPerHour: null, tasksPerSenderPerHour: null }), budget };
  const first = await recordMail(db, r, mail(), T0);
  assert.equal(first.kind, 'queued');
  // It ran and cost $2 (set-up writes the outcome directly).
  db.prepare(`UPDATE tasks SET status = 'completed', cost_usd = 2, finished_at = ? WHERE id = ?`).run(T0 + 60_000, idOf(first));

  const capped = await recordMail(db, r, mail(), T0 + 120_000);
  assert.equal(capped.kind, 'rejected');
  assert.equal(capped.replyQueued, true);
  const task = getTask(db, idOf(capped))!;
  assert.equal(task.status, 'rejected');
  assert.equal(task.reason, 'spend_capped');
  assert.match(task.detail ?? '', /\$2\.00 spent in 24 h by this sender; the cap is \$2\.50 \(budget\.sender_per_day_usd\)/);
  const text = (await replyOf(db, idOf(capped))).parsed.text ?? '';
  assert.match(text, /have spent \$2\.00 in the last 24 hours; one sender may spend at most \$2\.50\. A new task is given a budget of \$1\.00/);
  assert.match(text, /Send it again after 2024-05-07 10:01 UTC/);

  // The next mail is refused the same way, without a second reply; another sender still runs.
  const again = await recordMail(db, r, mail(), T0 + 180_000);
  assert.equal(again.kind, 'rejected');
  assert.equal(again.replyQueued, false);
  assert.equal(listMailForTask(db, idOf(again)).length, 0);
  assert.equal((await recordMail(db, r, mail({ sender: 'bob@example.com' }), T0 + 181_000)).kind, 'queued');
  // Once the spend is 24 hours old, alice's mail runs again.
  assert.equal((await recordMail(db, r, mail(), T0 + 60_000 + 24 * 60 * 60 * 1000)).kind, 'queued');
});

test('with no caps set, spend is not even looked at', async () => {
  const db = openDatabase(':memory:', { migrate: true });
  const r: RepoServerConfig = { ...repo('api', { tasksPerHour: null, tasksPerSenderPerHour: null }), budget: { taskUsd: 1, senderPerDayUsd: null, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null } };
  const first = await recordMail(db, r, mail(), T0);
  db.prepare(`UPDATE tasks SET status = 'completed', cost_usd = 1000, finished_at = ? WHERE id = ?`).run(T0 + 1, idOf(first));
  assert.equal((await recordMail(db, r, mail(), T0 + 2)).kind, 'queued');
});
