import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MailLimits } from '../../src/config/types.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { acceptMail, type MailVerdict } from '../../src/store/accept.ts';
import { REPO_WINDOW_WHERE, SENDER_WINDOW_WHERE, findRateLimitHit, mayNotifyRateLimit, noteLimitNotice } from '../../src/store/rate-limit.ts';
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
