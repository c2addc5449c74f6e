/**
 * The daily account of rejected mail, across all repositories (table `rejected_mail_days`,
 * migration 7): bytes of header sections stored, mails kept as a row only, mails not stored at
 * all. Called inside the transaction that records (or drops) the mail, so the account and the
 * rows always agree.
 *
 * Retention: conversation GC empties the raw bytes of rejected mail older than
 * `conversation_max_age_days` (compactUnthreadedMail) and, in the same sweep, forgets the days
 * older than that (forgetRejectedMailDaysBefore). A day's stored_bytes therefore counts bytes that
 * are still on disk, and rejected mail never holds more than the daily budget times the retention.
 */
import type { Db } from './database.ts';

const DAY_MS = 86_400_000;

/** The UTC day a time falls in, as days since the epoch (the key of the daily budget). */
function utcDay(now: number): number {
  return Math.floor(now / DAY_MS);
}

export interface RejectedMailDay {
  readonly day: number;
  readonly storedBytes: number;
  readonly headersStored: number;
  readonly metadataOnly: number;
  readonly dropped: number;
  readonly capHitAt: number | null;
}

function ensureDay(db: Db, day: number): void {
  db.prepare(`INSERT INTO rejected_mail_days (day) VALUES (?) ON CONFLICT (day) DO NOTHING`).run(day);
}

/**
 * Bytes of rejected mail stored so far on the UTC day of `now`; Infinity once a mail of that day
 * found the budget spent, so the rest of the day keeps rows only (a smaller header section that
 * would still fit is not squeezed in: "beyond the budget" stays one moment a day).
 */
export function rejectedBytesStoredOn(db: Db, now: number): number {
  const row = db.prepare(`SELECT stored_bytes, cap_hit_at FROM rejected_mail_days WHERE day = ?`).get(utcDay(now)) as
    | { stored_bytes: number; cap_hit_at: number | null }
    | undefined;
  if (row?.cap_hit_at != null) return Infinity;
  return row?.stored_bytes ?? 0;
}

/** Counts a rejected mail whose header section (`bytes` long) was stored. */
export function noteRejectedHeadersStored(db: Db, bytes: number, now: number): void {
  const day = utcDay(now);
  ensureDay(db, day);
  db.prepare(`UPDATE rejected_mail_days SET stored_bytes = stored_bytes + ?, headers_stored = headers_stored + 1 WHERE day = ?`).run(
    bytes,
    day,
  );
}

/**
 * Counts a rejected mail kept as a row only because the day's budget is spent. Returns true the
 * first time this happens on a day, so the caller logs it once a day, not once a mail.
 */
export function noteRejectedMetadataOnly(db: Db, now: number): boolean {
  const day = utcDay(now);
  ensureDay(db, day);
  db.prepare(`UPDATE rejected_mail_days SET metadata_only = metadata_only + 1 WHERE day = ?`).run(day);
  return db.prepare(`UPDATE rejected_mail_days SET cap_hit_at = ? WHERE day = ? AND cap_hit_at IS NULL`).run(now, day).changes === 1;
}

/**
 * Counts a rejected mail that was not stored at all (its source is over the per-source limit).
 * Returns true for the first of a UTC day, so that is logged once a day, not once a mail.
 */
export function noteRejectedDropped(db: Db, now: number): boolean {
  const day = utcDay(now);
  ensureDay(db, day);
  const row = db.prepare(`UPDATE rejected_mail_days SET dropped = dropped + 1 WHERE day = ? RETURNING dropped`).get(day) as { dropped: number };
  return row.dropped === 1;
}

export function getRejectedMailDay(db: Db, now: number): RejectedMailDay | null {
  const r = db.prepare(`SELECT * FROM rejected_mail_days WHERE day = ?`).get(utcDay(now)) as Record<string, number | null> | undefined;
  if (!r) return null;
  return {
    day: r.day as number,
    storedBytes: r.stored_bytes as number,
    headersStored: r.headers_stored as number,
    metadataOnly: r.metadata_only as number,
    dropped: r.dropped as number,
    capHitAt: r.cap_hit_at ?? null,
  };
}

/** Forgets the days that ended before `cutoff` (their mail's bytes are emptied by then). */
export function forgetRejectedMailDaysBefore(db: Db, cutoff: number): number {
  return db.prepare(`DELETE FROM rejected_mail_days WHERE day < ?`).run(utcDay(cutoff)).changes;
}
