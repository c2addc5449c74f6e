/**
 * The `conversations` table as the runner and the intake use it: a row per conversation of a
 * repository, written when its first task creates the directory and touched on every task after.
 * Archiving (a multi-table transaction) lives in conversation-gc.ts; the dashboard's task lists in
 * dashboard-queries.ts.
 */
import { writeTransaction, type Db } from './database.ts';
import { cachedStatement } from './statement-cache.ts';

export interface ConversationFields {
  readonly model?: string;
  readonly subject?: string;
  readonly sender?: string | null;
  readonly sessionId?: string | null;
  /** Pinned at the conversation's first task; null: Claude Code's default. */
  readonly effort?: string | null;
}

/**
 * Creates the row, or marks activity on it. Model, effort and session id are only ever filled in,
 * never cleared; subject and sender are those of the first task.
 */
export function upsertConversation(db: Db, repoId: string, id: string, fields: ConversationFields, now: number = Date.now()): void {
  writeTransaction(db, () => {
    db.prepare(
      `INSERT INTO conversations (repo_id, id, model, session_id, subject, sender, effort, created_at, last_activity_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (repo_id, id) DO UPDATE SET
         model = COALESCE(excluded.model, model), session_id = COALESCE(excluded.session_id, session_id),
         effort = COALESCE(excluded.effort, effort), last_activity_at = excluded.last_activity_at`,
    ).run(repoId, id, fields.model ?? null, fields.sessionId ?? null, fields.subject ?? '', fields.sender ?? null, fields.effort ?? null, now, now);
  });
}

/** The subject the conversation started with, or null when it has no row. */
export function conversationSubject(db: Db, repoId: string, id: string): string | null {
  const r = db.prepare(`SELECT subject FROM conversations WHERE repo_id = ? AND id = ?`).get(repoId, id) as { subject: string } | undefined;
  return r ? r.subject : null;
}

/** The effort pinned in the conversation at its first task; null when none (Claude Code's default) or no row. */
export function conversationEffort(db: Db, repoId: string, id: string): string | null {
  const r = db.prepare(`SELECT effort FROM conversations WHERE repo_id = ? AND id = ?`).get(repoId, id) as { effort: string | null } | undefined;
  return r?.effort ?? null;
}

/** The first candidate that has a row in this repository (archived ones included). */
export function firstKnownConversation(db: Db, repoId: string, candidates: readonly string[]): string | null {
  const exists = db.prepare(`SELECT 1 FROM conversations WHERE repo_id = ? AND id = ?`);
  for (const id of candidates) if (exists.get(repoId, id)) return id;
  return null;
}

/** What the database knows of a conversation id: for deciding about a directory on disk, or a thread to resume. */
export type ConversationRecord = 'live' | 'archived' | 'unknown';

/** Live when it has a row that is not archived, or no row but tasks that use it (the runner failed before it wrote the row). */
export function conversationRecord(db: Db, repoId: string, id: string): ConversationRecord {
  const row = db.prepare(`SELECT archived_at FROM conversations WHERE repo_id = ? AND id = ?`).get(repoId, id) as
    | { archived_at: number | null }
    | undefined;
  if (row) return row.archived_at === null ? 'live' : 'archived';
  return db.prepare(`SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ? LIMIT 1`).get(repoId, id) ? 'live' : 'unknown';
}

/** Whether any record uses this id, archived ones included: a new conversation never reuses one. */
export function conversationIdTaken(db: Db, repoId: string, id: string): boolean {
  return !!db
    .prepare(
      `SELECT 1 FROM conversations WHERE repo_id = ? AND id = ?
       UNION ALL SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ? LIMIT 1`,
    )
    .get(repoId, id, repoId, id);
}

export interface ConversationRow {
  readonly repoId: string;
  readonly id: string;
  readonly model: string | null;
  readonly sessionId: string | null;
  readonly subject: string;
  readonly sender: string | null;
  readonly createdAt: number;
  readonly lastActivityAt: number;
  /** When conversation GC deleted its files and its tasks' events and mail bytes; null while live. */
  readonly archivedAt: number | null;
  /** Number of tasks when it was archived (null while live: count its tasks instead). */
  readonly taskCount: number | null;
}

export function getConversation(db: Db, repoId: string, id: string): ConversationRow | null {
  const r = db.prepare(`SELECT * FROM conversations WHERE repo_id = ? AND id = ?`).get(repoId, id) as
    | Record<string, unknown>
    | undefined;
  if (!r) return null;
  return {
    repoId: r.repo_id as string,
    id: r.id as string,
    model: (r.model as string | null) ?? null,
    sessionId: (r.session_id as string | null) ?? null,
    subject: (r.subject as string) ?? '',
    sender: (r.sender as string | null) ?? null,
    createdAt: r.created_at as number,
    lastActivityAt: r.last_activity_at as number,
    archivedAt: (r.archived_at as number | null) ?? null,
    taskCount: (r.task_count as number | null) ?? null,
  };
}

/** A conversation row or at least one task of it exists (one index probe each, for the API and streams). */
export function conversationExists(db: Db, repoId: string, id: string): boolean {
  return (
    cachedStatement(
      db,
      `SELECT EXISTS (SELECT 1 FROM conversations WHERE repo_id = ? AND id = ?)
           OR EXISTS (SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ?) AS found`,
    ).get(repoId, id, repoId, id) as { found: number }
  ).found === 1;
}
