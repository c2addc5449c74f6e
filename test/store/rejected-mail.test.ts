/**
 * Issue 13, item 16: rejected mail cannot fill the disk. Real SQLite through the store's own
 * open function; the clock is the `now` every store call takes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import type { IncomingMail, RecordedOutcome } from '../../src/protocol/incoming-mail.ts';
import { getTaskMailStorage, getTaskRawMessage, listTasks } from '../../src/store/task-queries.ts';
import { forgetRejectedMailDaysBefore, getRejectedMailDay } from '../../src/store/rejected-mail.ts';
import { compactUnthreadedMail } from '../../src/store/conversation-gc.ts';
import { boundedHeaderSection, MAX_REJECTED_HEADER_BYTES } from '../../src/limits/rejected-mail.ts';
import type { RejectedMailPolicy } from '../../src/config/types.ts';

const DAY = 86_400_000;
/** 2024-05-06 10:00 UTC: well inside a UTC day. */
const T0 = Date.UTC(2024, 4, 6, 10, 0, 0);
const BODY = 'B'.repeat(200_000);

let n = 0;
function rawMail(from: string, body = BODY, extraHeaders = ''): Buffer {
  n++;
  return Buffer.from(`From: ${from}\r\nTo: bot@repos.test\r\nMessage-ID: <r${n}@evil.example>\r\nSubject: spam ${n}\r\n${extraHeaders}\r\n${body}\r\n`);
}

function mail(raw: Buffer, overrides: Partial<IncomingMail> = {}): IncomingMail {
  return {
    repoId: 'api',
    raw,
    imapUid: n,
    messageId: `<r${n}@evil.example>`,
    subject: `spam ${n}`,
    sender: 'mallory@evil.example',
    conversationCandidates: [],
    verdict: { action: 'reject', reason: 'auth_failed', detail: 'Authentication failed: dmarc=fail.' },
    ...overrides,
  };
}

function taskId(o: RecordedOutcome): number {
  return o.taskId;
}

function storedRejectedBytes(db: Db): number {
  return (
    db
      .prepare(`SELECT COALESCE(sum(length(m.raw)), 0) AS n FROM tasks t JOIN messages m ON m.id = t.message_row WHERE t.status = 'rejected'`)
      .get() as { n: number }
  ).n;
}

test('a rejected mail keeps its header section only, with its original size; an accepted one is stored whole', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const spoof = rawMail('mallory@evil.example');
  const rejected = acceptMail(db, mail(spoof), T0);
  assert.equal(rejected.kind, 'rejected');
  const kept = getTaskRawMessage(db, taskId(rejected))!;
  const headerEnd = spoof.indexOf('\r\n\r\n');
  assert.equal(kept.toString('latin1'), spoof.subarray(0, headerEnd + 2).toString('latin1'), 'exactly the header section');
  assert.ok(!kept.includes('BBBB'), 'no body bytes');
  assert.deepEqual(getTaskMailStorage(db, taskId(rejected)), { stored: 'headers', storedBytes: headerEnd + 2, size: spoof.byteLength });

  const genuine = rawMail('alice@example.com');
  const accepted = acceptMail(db, mail(genuine, { sender: 'alice@example.com', verdict: { action: 'accept', modelHint: null } }), T0);
  assert.equal(accepted.kind, 'queued');
  assert.deepEqual(getTaskRawMessage(db, taskId(accepted)), genuine, 'accepted mail is untouched');
  assert.equal(getTaskMailStorage(db, taskId(accepted))?.stored, 'whole');
  // Only the rejected mail's header bytes are on the day's account.
  assert.equal(getRejectedMailDay(db, T0)?.storedBytes, headerEnd + 2);
  db.close();
});

test('a rejected mail fetched again is recognised by the hash of what was fetched, not of what was kept', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const spoof = rawMail('mallory@evil.example');
  const first = acceptMail(db, mail(spoof), T0);
  const again = acceptMail(db, mail(spoof), T0 + 1000);
  assert.deepEqual(again, { kind: 'duplicate', taskId: taskId(first) });
  // Same headers, another body: a different mail, recorded.
  const sameHeaders = Buffer.concat([spoof.subarray(0, spoof.indexOf('\r\n\r\n') + 4), Buffer.from('other body\r\n')]);
  assert.equal(acceptMail(db, mail(sameHeaders), T0 + 2000).kind, 'rejected');
  assert.equal(listTasks(db).length, 2);
  assert.equal(getRejectedMailDay(db, T0)?.headersStored, 2, 'the duplicate cost nothing');
  db.close();
});

test('a header section over 64 KiB is cut at a line end within the bound', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const junk = Array.from({ length: 3000 }, (_, i) => `X-Junk-${i}: ${'j'.repeat(60)}\r\n`).join('');
  const spoof = rawMail('mallory@evil.example', BODY, junk);
  assert.ok(spoof.indexOf('\r\n\r\n') > 3 * MAX_REJECTED_HEADER_BYTES);
  const out = acceptMail(db, mail(spoof), T0);
  const kept = getTaskRawMessage(db, taskId(out))!;
  assert.ok(kept.byteLength <= MAX_REJECTED_HEADER_BYTES && kept.byteLength > MAX_REJECTED_HEADER_BYTES - 100, String(kept.byteLength));
  assert.ok(kept.toString('latin1').endsWith('\r\n'), 'whole lines only');
  assert.ok(kept.toString('latin1').startsWith('From: mallory@evil.example\r\n'));
  // The same bound for a message that is nothing but one endless header line.
  assert.equal(boundedHeaderSection(Buffer.alloc(1_000_000, 0x41)).byteLength, MAX_REJECTED_HEADER_BYTES);
  db.close();
});

test('the daily budget: beyond it a rejected mail keeps its row only, it is reported once, and the next UTC day starts afresh', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const policy: RejectedMailPolicy = { maxStoredBytesPerDay: 1000, perSourcePerHour: null };
  const outs: RecordedOutcome[] = [];
  const raws: Buffer[] = [];
  // 20 spoofs in one day, each with ~110 bytes of headers and 200 KB of body.
  for (let i = 0; i < 20; i++) {
    raws.push(rawMail(`m${i}@evil.example`));
    outs.push(acceptMail(db, mail(raws[i]!), T0 + i * 60_000, policy));
  }
  assert.ok(outs.every((o) => o.kind === 'rejected'));
  const stored = outs.map((o) => (o.kind === 'rejected' ? o.stored : null));
  const firstNone = stored.indexOf('none');
  assert.ok(firstNone > 0, 'some were kept before the budget ran out');
  assert.ok(stored.slice(firstNone).every((s) => s === 'none'), stored.join(','));
  assert.deepEqual(
    outs.map((o) => o.kind === 'rejected' && o.budgetSpent === true),
    outs.map((_, i) => i === firstNone),
    'reported for the first mail over the budget only',
  );
  assert.ok(storedRejectedBytes(db) <= policy.maxStoredBytesPerDay, `${storedRejectedBytes(db)} bytes stored`);
  assert.equal(getRejectedMailDay(db, T0)?.storedBytes, storedRejectedBytes(db), 'the account matches the rows');
  assert.equal(getRejectedMailDay(db, T0)?.metadataOnly, 20 - firstNone);
  // A row kept without bytes still says who, why, how big and when.
  const last = listTasks(db, { limit: 1 })[0]!;
  assert.equal(last.reason, 'auth_failed');
  assert.equal(last.sender, 'mallory@evil.example');
  assert.deepEqual(getTaskMailStorage(db, last.id), { stored: 'none', storedBytes: 0, size: raws[19]!.byteLength });

  // Next UTC day: headers are kept again, and a spent budget is reported again (once).
  const tomorrow = Date.UTC(2024, 4, 7, 0, 0, 1);
  const next = acceptMail(db, mail(rawMail('late@evil.example')), tomorrow, policy);
  assert.equal(next.kind === 'rejected' && next.stored, 'headers');
  db.close();
});

test('once the budget is spent, a smaller header section that would still fit is not stored that day', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const policy: RejectedMailPolicy = { maxStoredBytesPerDay: 400, perSourcePerHour: null };
  const big = acceptMail(db, mail(rawMail('a@evil.example', BODY, `X-Pad: ${'p'.repeat(150)}\r\n`)), T0, policy);
  const bigger = acceptMail(db, mail(rawMail('b@evil.example', BODY, `X-Pad: ${'p'.repeat(150)}\r\n`)), T0 + 1, policy);
  const small = acceptMail(db, mail(rawMail('c@evil.example')), T0 + 2, policy);
  assert.deepEqual([big, bigger, small].map((o) => o.kind === 'rejected' && o.stored), ['headers', 'none', 'none']);
  db.close();
});

test('a zero budget keeps rejected mail as rows only', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const out = acceptMail(db, mail(rawMail('mallory@evil.example')), T0, { maxStoredBytesPerDay: 0, perSourcePerHour: null });
  assert.equal(out.kind === 'rejected' && out.stored, 'none');
  assert.equal(storedRejectedBytes(db), 0);
  db.close();
});

test('retention empties old rejected mail and forgets its days, so the account never counts bytes that are gone', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const old = acceptMail(db, mail(rawMail('old@evil.example')), T0);
  const recent = acceptMail(db, mail(rawMail('new@evil.example')), T0 + 9 * DAY);
  const cutoff = T0 + 7 * DAY;
  const oldBytes = getTaskMailStorage(db, taskId(old))!.storedBytes;
  assert.equal(getRejectedMailDay(db, T0)?.storedBytes, oldBytes);
  const freed = compactUnthreadedMail(db, 'api', cutoff);
  forgetRejectedMailDaysBefore(db, cutoff);
  assert.equal(freed, oldBytes);
  assert.equal(getTaskMailStorage(db, taskId(old))?.storedBytes, 0);
  assert.equal(getRejectedMailDay(db, T0), null, 'the old day is forgotten with its bytes');
  assert.equal(getRejectedMailDay(db, T0 + 9 * DAY)?.storedBytes, getTaskMailStorage(db, taskId(recent))?.storedBytes);
  db.close();
});
