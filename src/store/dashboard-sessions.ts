/**
 * Dashboard login sessions, keyed by a hash of the session id (the id itself is only in the
 * browser's cookie). Policy (lifetimes, hashing) is in src/dashboard/sessions.ts; this is storage.
 */
import { writeTransaction, type Db } from './database.ts';

export interface StoredSession {
  readonly createdAt: number;
  readonly lastSeenAt: number;
}

export interface SessionExpiry {
  /** Sessions last used before this end. */
  readonly idleBefore: number;
  /** Sessions created before this end. */
  readonly createdBefore: number;
  /** At most this many live sessions are kept; the least recently used go first. */
  readonly keep: number;
}

/** Stores a new session and, in the same transaction, removes ended ones and any beyond `keep`. */
export function insertSession(db: Db, idHash: string, now: number, expiry: SessionExpiry): void {
  writeTransaction(db, () => {
    deleteEndedSessions(db, expiry);
    db.prepare('INSERT INTO dashboard_sessions (id_hash, created_at, last_seen_at) VALUES (?, ?, ?)').run(idHash, now, now);
    db.prepare(
      `DELETE FROM dashboard_sessions WHERE id_hash IN (
         SELECT id_hash FROM dashboard_sessions ORDER BY last_seen_at DESC, created_at DESC LIMIT -1 OFFSET ?)`,
    ).run(expiry.keep);
  });
}

export function findSession(db: Db, idHash: string): StoredSession | null {
  const row = db.prepare('SELECT created_at, last_seen_at FROM dashboard_sessions WHERE id_hash = ?').get(idHash) as
    | { created_at: number; last_seen_at: number }
    | undefined;
  return row ? { createdAt: row.created_at, lastSeenAt: row.last_seen_at } : null;
}

export function touchSession(db: Db, idHash: string, now: number): void {
  db.prepare('UPDATE dashboard_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?').run(now, idHash, now);
}

/** Ends one session (log out, or found expired). */
export function deleteSession(db: Db, idHash: string): void {
  db.prepare('DELETE FROM dashboard_sessions WHERE id_hash = ?').run(idHash);
}

export function deleteEndedSessions(db: Db, expiry: Omit<SessionExpiry, 'keep'>): number {
  return db.prepare('DELETE FROM dashboard_sessions WHERE last_seen_at < ? OR created_at < ?').run(expiry.idleBefore, expiry.createdBefore).changes;
}

export function countSessions(db: Db): number {
  return (db.prepare('SELECT count(*) AS n FROM dashboard_sessions').get() as { n: number }).n;
}
