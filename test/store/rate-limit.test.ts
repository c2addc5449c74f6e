import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MailLimits } from '../../src/config/types.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import type { MailVerdict } from '../../src/protocol/incoming-mail.ts';
import {
  REPO_WINDOW_WHERE,
  SCREENED_OUT_BY_IP_WHERE,
  SCREENED_OUT_BY_SENDER_WHERE,
  SENDER_WINDOW_WHERE,
  findRateLimitHit,
  mayNotifyRateLimit,
  noteLimitNotice,
  rejectedSourceOverLimit,
} from '../../src/store/rate-limit.ts';
import { RATE_WINDOW_MS } from '../../src/limits/rate-limit.ts';

const limits: MailLimits = { maxMessageBytes: null, maxAttachmentBytes: null, maxAttachments: null, tasksPerHour: 5, tasksPerSenderPerHour: 3 };
const T0 = Date.UTC(2024, 4, 6, 10, 0, 0);
let n = 0;

function record(db: Db, repoId: string, sender: string, at: number, verdict: MailVerdict = { action: 'accept', modelHint: null }): void {
  n++;
  acceptMail(db, {
    repoId,
    raw: Buffer.from(`From: ${sender}\r\nMessage-ID: <m${n}@example.com>\r\n\r\nmail ${n}\r\n`),
    imapUid: n,
    messageId: `<m${n}@example.com>`,
    subject: `mail ${n}`,
    sender,
    conversationCandidates: [],
    verdict,
  }, at);
}

test('a sender over tasks_per_sender_per_hour is named, with the time the oldest counted task leaves the hour', () => {
  const db = openDatabase(':memory:', { migrate: true });
  record(db, 'api', 'alice@example.com', T0);
  record(db, 'api', 'alice@example.com', T0 + 10 * 60_000);
  assert.equal(findRateLimitHit(db, 'api', 'alice@example.com', limits, T0 + 20 * 60_000), null);
  record(db, 'api', 'alice@example.com', T0 + 20 * 60_000);
  const hit = findRateLimitHit(db, 'api', 'alice@example.com', limits, T0 + 30 * 60_000);
  assert.deepEqual(hit, { scope: 'sender', limit: 3, count: 3, retryAt: T0 + RATE_WINDOW_MS });
  // Other senders and other repos have budgets of their own.
  assert.equal(findRateLimitHit(db, 'api', 'bob@example.com', limits, T0 + 30 * 60_000), null);
  assert.equal(findRateLimitHit(db, 'web', 'alice@example.com', limits, T0 + 30 * 60_000), null);
  // The window slides: once the first task is an hour old, a new one fits.
  assert.equal(findRateLimitHit(db, 'api', 'alice@example.com', limits, T0 + RATE_WINDOW_MS), null);
});

test('the repo-wide limit counts all senders; the retry time is when enough tasks have aged out', () => {
  const db = openDatabase(':memory:', { migrate: true });
  for (let i = 0; i < 5; i++) record(db, 'api', `u${i}@example.com`, T0 + i * 60_000);
  const hit = findRateLimitHit(db, 'api', 'new@example.com', limits, T0 + 10 * 60_000);
  assert.deepEqual(hit, { scope: 'repo', limit: 5, count: 5, retryAt: T0 + RATE_WINDOW_MS });
  // Lowered limit (config change): more tasks than the limit are counted; the retry time is
  // when enough of them have left.
  const lower = findRateLimitHit(db, 'api', 'new@example.com', { ...limits, tasksPerHour: 2 }, T0 + 10 * 60_000);
  assert.deepEqual(lower, { scope: 'repo', limit: 2, count: 5, retryAt: T0 + 3 * 60_000 + RATE_WINDOW_MS });
  assert.equal(findRateLimitHit(db, 'api', 'new@example.com', { ...limits, tasksPerHour: null }, T0 + 10 * 60_000), null);
});

test('refused mail does not count, except too-large mail (it was answered)', () => {
  const db = openDatabase(':memory:', { migrate: true });
  for (const reason of ['auth_failed', 'unauthorized', 'loop', 'malformed', 'rate_limited'] as const) {
    for (let i = 0; i < 5; i++) record(db, 'api', 'alice@example.com', T0, { action: 'reject', reason, detail: 'x' });
  }
  assert.equal(findRateLimitHit(db, 'api', 'alice@example.com', limits, T0 + 1000), null);
  for (let i = 0; i < 3; i++) record(db, 'api', 'alice@example.com', T0, { action: 'reject', reason: 'too_large', detail: 'x' });
  assert.equal(findRateLimitHit(db, 'api', 'alice@example.com', limits, T0 + 1000)?.scope, 'sender');
});

test('the counts use the partial indexes, so a flood of refused mail is never scanned', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const plans = (sql: string, ...params: unknown[]) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('\n');
  for (const [where, index, params] of [
    [SENDER_WINDOW_WHERE, 'tasks_rate_by_sender', ['a', 'b', 0]],
    [REPO_WINDOW_WHERE, 'tasks_rate_by_repo', ['a', 0]],
  ] as const) {
    assert.match(plans(`SELECT count(*) FROM tasks WHERE ${where}`, ...params), new RegExp(`USING (COVERING )?INDEX ${index}`));
    assert.match(plans(`SELECT created_at FROM tasks WHERE ${where} ORDER BY created_at LIMIT 1 OFFSET 0`, ...params), new RegExp(`INDEX ${index}`));
  }
});

test('a sender is told about a rate limit at most once an hour', () => {
  const db = openDatabase(':memory:', { migrate: true });
  assert.equal(mayNotifyRateLimit(db, 'api', 'alice@example.com', T0), true);
  noteLimitNotice(db, 'api', 'alice@example.com', 'rate_limited', T0);
  assert.equal(mayNotifyRateLimit(db, 'api', 'alice@example.com', T0 + 59 * 60_000), false);
  assert.equal(mayNotifyRateLimit(db, 'api', 'bob@example.com', T0 + 1), true);
  assert.equal(mayNotifyRateLimit(db, 'web', 'alice@example.com', T0 + 1), true);
  assert.equal(mayNotifyRateLimit(db, 'api', 'alice@example.com', T0 + RATE_WINDOW_MS), true);
  noteLimitNotice(db, 'api', 'alice@example.com', 'rate_limited', T0 + RATE_WINDOW_MS);
  assert.equal(mayNotifyRateLimit(db, 'api', 'alice@example.com', T0 + RATE_WINDOW_MS + 1), false);
});

// ---- rejected mail per source (issue 13, item 16) ----------------------------------------------

function recordRejected(db: Db, repoId: string, sender: string | null, sourceIp: string | null, at: number, reason: 'auth_failed' | 'unauthorized' | 'too_large' = 'auth_failed'): void {
  n++;
  acceptMail(db, {
    repoId,
    raw: Buffer.from(`From: ${sender ?? 'nobody'}\r\nMessage-ID: <s${n}@evil.example>\r\n\r\nspam ${n}\r\n`),
    imapUid: n,
    messageId: `<s${n}@evil.example>`,
    subject: `spam ${n}`,
    sender,
    sourceIp,
    conversationCandidates: [],
    verdict: { action: 'reject', reason, detail: 'no' },
  }, at);
}

test('rejected mail is counted per source across repositories: by From address, by connecting IP, and the hour slides', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const mallory = { sender: 'mallory@evil.example', ip: '203.0.113.9' };
  recordRejected(db, 'api', mallory.sender, mallory.ip, T0);
  recordRejected(db, 'web', mallory.sender, mallory.ip, T0 + 1);
  assert.equal(rejectedSourceOverLimit(db, mallory, 3, T0 + 2), null);
  recordRejected(db, 'docs', mallory.sender, null, T0 + 3);
  assert.equal(rejectedSourceOverLimit(db, mallory, 3, T0 + 4), 'sender', 'three repositories, one source');
  // Another address from the same server is over by its IP; another server with a fresh address is not.
  assert.equal(rejectedSourceOverLimit(db, { sender: 'other@evil.example', ip: mallory.ip }, 2, T0 + 4), 'ip');
  assert.equal(rejectedSourceOverLimit(db, { sender: 'other@evil.example', ip: '198.51.100.1' }, 2, T0 + 4), null);
  // Mail without a readable From address is one source of its own.
  recordRejected(db, 'api', null, null, T0 + 5);
  recordRejected(db, 'api', null, null, T0 + 6);
  assert.equal(rejectedSourceOverLimit(db, { sender: null, ip: null }, 2, T0 + 7), 'sender');
  assert.equal(rejectedSourceOverLimit(db, { sender: null, ip: null }, 3, T0 + 7), null);
  // Too-large mail of authorized senders keeps its own rules (answered once; counted by the task rates).
  for (let i = 0; i < 5; i++) recordRejected(db, 'api', 'alice@example.com', null, T0 + 10 + i, 'too_large');
  assert.equal(rejectedSourceOverLimit(db, { sender: 'alice@example.com', ip: null }, 1, T0 + 20), null);
  // null: no limit. And an hour later the source may leave mail again.
  assert.equal(rejectedSourceOverLimit(db, mallory, null, T0 + 20), null);
  assert.equal(rejectedSourceOverLimit(db, mallory, 3, T0 + RATE_WINDOW_MS + 3), null);
});

test('the per-source counts read the partial indexes of migration 7', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const plans = (sql: string, ...params: unknown[]): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join('\n');
  assert.match(plans(`SELECT 1 FROM tasks WHERE ${SCREENED_OUT_BY_SENDER_WHERE} LIMIT 5`, 'a', 0), /USING (COVERING )?INDEX tasks_screened_out_by_sender/);
  assert.match(plans(`SELECT 1 FROM tasks WHERE ${SCREENED_OUT_BY_IP_WHERE} LIMIT 5`, 'a', 0), /USING (COVERING )?INDEX tasks_screened_out_by_ip/);
});
