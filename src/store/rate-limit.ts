/**
 * The rate-limit queries. What counts towards a rate: tasks accepted in the last hour (whatever
 * became of them) and too-large mails (each one was answered). Mail refused for any other reason,
 * rate-limited mail included, does not count, so a flood cannot keep a sender locked out longer.
 *
 * Both counts use partial indexes (migration 2) whose WHERE the queries repeat word for word —
 * SQLite only uses a partial index when the query's WHERE contains the index's — so a check reads
 * at most `limit` index entries however large the flood.
 */
import type { MailLimits } from '../config/types.ts';
import { RATE_NOTICE_INTERVAL_MS, RATE_WINDOW_MS, type RateLimitHit } from '../limits/rate-limit.ts';
import type { Db } from './database.ts';

const COUNTED = `(status <> 'rejected' OR reason = 'too_large')`;
/** WHERE of the per-sender count: params repo, sender, window start. Exported for the query-plan test. */
export const SENDER_WINDOW_WHERE = `repo_id = ? AND sender = ? AND created_at > ? AND ${COUNTED}`;
/** WHERE of the per-repo count: params repo, window start. */
export const REPO_WINDOW_WHERE = `repo_id = ? AND created_at > ? AND ${COUNTED}`;

function firstHit(db: Db, where: string, params: unknown[], limit: number, scope: RateLimitHit['scope']): RateLimitHit | null {
  // Bounded: tasks over the limit are refused (and refused ones do not count), so the window
  // holds about `limit` counted rows at most.
  const count = (db.prepare(`SELECT count(*) AS n FROM tasks WHERE ${where}`).get(...params) as { n: number }).n;
  if (count < limit) return null;
  // A new task fits once the oldest `count - limit + 1` counted tasks have left the window.
  const decisive = db
    .prepare(`SELECT created_at FROM tasks WHERE ${where} ORDER BY created_at LIMIT 1 OFFSET ?`)
    .get(...params, count - limit) as { created_at: number };
  return { scope, limit, count, retryAt: decisive.created_at + RATE_WINDOW_MS };
}

/** The rate limit a new task from `sender` would break (the sender's first, then the repo's), or null. */
export function findRateLimitHit(db: Db, repoId: string, sender: string, limits: MailLimits, now: number): RateLimitHit | null {
  const since = now - RATE_WINDOW_MS;
  if (limits.tasksPerSenderPerHour !== null) {
    const hit = firstHit(
      db,
      SENDER_WINDOW_WHERE,
      [repoId, sender, since],
      limits.tasksPerSenderPerHour,
      'sender',
    );
    if (hit) return hit;
  }
  if (limits.tasksPerHour !== null) {
    return firstHit(db, REPO_WINDOW_WHERE, [repoId, since], limits.tasksPerHour, 'repo');
  }
  return null;
}

/** Whether `sender` may be told about a rate limit now (no such reply in the last interval). */
export function mayNotifyRateLimit(db: Db, repoId: string, sender: string, now: number): boolean {
  return mayNotifyLimit(db, repoId, sender, 'rate_limited', RATE_NOTICE_INTERVAL_MS, now);
}

/** Whether `sender` may be told about the limit `reason` now (no such reply in the last `intervalMs`). */
export function mayNotifyLimit(db: Db, repoId: string, sender: string, reason: string, intervalMs: number, now: number): boolean {
  const row = db
    .prepare(`SELECT sent_at FROM limit_notices WHERE repo_id = ? AND sender = ? AND reason = ?`)
    .get(repoId, sender, reason) as { sent_at: number } | undefined;
  return row === undefined || now - row.sent_at >= intervalMs || row.sent_at > now;
}

/** Records that `sender` was just told about a limit (call inside the transaction that queues the reply). */
export function noteLimitNotice(db: Db, repoId: string, sender: string, reason: string, now: number): void {
  db.prepare(
    `INSERT INTO limit_notices (repo_id, sender, reason, sent_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (repo_id, sender, reason) DO UPDATE SET sent_at = excluded.sent_at`,
  ).run(repoId, sender, reason, now);
}

/**
 * Rejected mail per source (`rejected_mail.per_source_per_hour`). The source of a mail is its From
 * address (null when it had none that could be read, which is one source of its own) and, when the
 * listener could tell, the IP of the server that handed it to the repo's own mail server; a mail
 * counts against both. Only mail the screen refused counts (see isScreenedOut), across all
 * repositories, over the last hour, sliding. Mail over the limit is not stored, so the count reads at
 * most `limit` index entries per key (the partial indexes of migration 7, whose WHERE these repeat).
 */
const SCREENED_OUT = `status = 'rejected' AND reason IN ('auth_failed', 'unauthorized', 'loop', 'malformed')`;
/** Exported for the query-plan test. */
export const SCREENED_OUT_BY_SENDER_WHERE = `${SCREENED_OUT} AND sender IS ? AND created_at > ?`;
export const SCREENED_OUT_BY_IP_WHERE = `${SCREENED_OUT} AND source_ip IS NOT NULL AND source_ip = ? AND created_at > ?`;

export interface RejectedSource {
  readonly sender: string | null;
  readonly ip: string | null;
}

/** Which part of the source is over the limit ('sender' first), or null when the mail may be stored. */
export function rejectedSourceOverLimit(db: Db, source: RejectedSource, limit: number | null, now: number): 'sender' | 'ip' | null {
  if (limit === null) return null;
  const since = now - RATE_WINDOW_MS;
  const count = (where: string, key: string | null): number =>
    (db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM tasks WHERE ${where} LIMIT ?)`).get(key, since, limit) as { n: number }).n;
  if (count(SCREENED_OUT_BY_SENDER_WHERE, source.sender) >= limit) return 'sender';
  if (source.ip !== null && count(SCREENED_OUT_BY_IP_WHERE, source.ip) >= limit) return 'ip';
  return null;
}
