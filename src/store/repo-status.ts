/** The last known state of each repo's listener (the repo_status table), as the dashboard and /health read it. */
import type { Db } from './database.ts';
import type { ListenerState, ListenerStatus } from '../protocol/listener-status.ts';

export interface RepoStatusRow extends ListenerStatus {
  readonly repoId: string;
  readonly lastMailAt: number | null;
  readonly updatedAt: number;
}

export function saveListenerStatus(db: Db, repoId: string, s: ListenerStatus, now: number = Date.now()): void {
  db.prepare(
    `INSERT INTO repo_status (repo_id, state, detail, last_error, next_retry_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (repo_id) DO UPDATE SET state = excluded.state, detail = excluded.detail,
       last_error = excluded.last_error, next_retry_at = excluded.next_retry_at, updated_at = excluded.updated_at`,
  ).run(repoId, s.state, s.detail, s.lastError, s.nextRetryAt, now);
}

export function noteMailSeen(db: Db, repoId: string, now: number = Date.now()): void {
  db.prepare(
    `INSERT INTO repo_status (repo_id, state, last_mail_at, updated_at) VALUES (?, 'processing', ?, ?)
     ON CONFLICT (repo_id) DO UPDATE SET last_mail_at = excluded.last_mail_at`,
  ).run(repoId, now, now);
}

export function loadRepoStatuses(db: Db): RepoStatusRow[] {
  const rows = db.prepare(`SELECT * FROM repo_status ORDER BY repo_id`).all() as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    repoId: r.repo_id as string,
    state: r.state as ListenerState,
    detail: (r.detail as string | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    nextRetryAt: (r.next_retry_at as number | null) ?? null,
    lastMailAt: (r.last_mail_at as number | null) ?? null,
    updatedAt: r.updated_at as number,
  }));
}
