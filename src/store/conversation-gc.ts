/**
 * The database half of conversation garbage collection (the sweeper in src/maintenance/ does the
 * files and images).
 *
 * A conversation idle for longer than `execution.conversation_max_age_days` is **archived**: in one
 * write transaction that first checks that none of its tasks is queued, running or waiting to resume,
 * its `conversations` row becomes a summary (`archived_at`, `task_count`), its tasks' agent events are
 * deleted and the raw bytes of its incoming and sent mail are emptied. What stays is small: the
 * summary row, the task rows (subject, sender, status, cost, times — what the dashboard lists and what
 * /metrics counts, which must never go down), and the messages' dedupe keys (`raw_sha256`,
 * `message_id`), so a mail the server delivers again is still recognised. The files kept for the
 * dashboard live in the conversation's directory (src/task-files/kept-path.ts) and go with it; their
 * task_files rows stay, marked not kept ("deleted with the conversation"), because the thread still
 * shows what was sent and received, as it still shows the tasks. Only after the commit does
 * the caller delete the directory; from then on the id is never resumed (a reply to that thread starts
 * a new conversation) and never handed out again (see conversations.ts, which the queue asks when it claims).
 */
import { writeTransaction, type Db } from './database.ts';
import { forgetConversationFiles } from './task-content.ts';

export interface IdleConversation {
  readonly repoId: string;
  readonly id: string;
  /** Milliseconds since the epoch: the latest of the row's last activity and its tasks' times. */
  readonly lastActivityAt: number;
}

export type ArchiveOutcome =
  | { readonly kind: 'archived'; readonly taskCount: number; readonly eventsDeleted: number; readonly bytesFreed: number }
  /** A task of it is queued, running, waiting to resume, or a queued mail may thread into it. */
  | { readonly kind: 'busy' }
  /** It saw activity after the cutoff since it was found. */
  | { readonly kind: 'active' }
  | { readonly kind: 'already-archived' };

/** The time a task last did anything. */
const TASK_ACTIVITY = `max(created_at, COALESCE(started_at, 0), COALESCE(finished_at, 0))`;

/**
 * Conversations of a repository, not yet archived, whose last activity is before `cutoff`. Ids that
 * only tasks mention (the runner failed before it wrote the row) count too.
 */
export function findIdleConversations(db: Db, repoId: string, cutoff: number): IdleConversation[] {
  const rows = db
    .prepare(
      `WITH activity AS (
         SELECT id AS cid, last_activity_at AS at FROM conversations WHERE repo_id = :repo AND archived_at IS NULL
         UNION ALL
         SELECT conversation_id, ${TASK_ACTIVITY} FROM tasks WHERE repo_id = :repo AND conversation_id IS NOT NULL
       )
       SELECT cid, max(at) AS last FROM activity
        WHERE cid NOT IN (SELECT id FROM conversations WHERE repo_id = :repo AND archived_at IS NOT NULL)
        GROUP BY cid HAVING last < :cutoff ORDER BY last`,
    )
    .all({ repo: repoId, cutoff }) as Array<{ cid: string; last: number }>;
  return rows.map((r) => ({ repoId, id: r.cid, lastActivityAt: r.last }));
}

/**
 * Archives one conversation if it is still idle and nothing of it is pending; see the module comment.
 * The check and the changes are one transaction, so a task cannot be claimed into the conversation
 * between them (claiming takes the same write lock).
 */
export function archiveConversation(db: Db, repoId: string, id: string, cutoff: number, now: number = Date.now()): ArchiveOutcome {
  return writeTransaction(db, () => {
    const row = db.prepare(`SELECT archived_at FROM conversations WHERE repo_id = ? AND id = ?`).get(repoId, id) as
      | { archived_at: number | null }
      | undefined;
    if (row && row.archived_at !== null) return { kind: 'already-archived' };

    const pending = db
      .prepare(
        `SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ?
            AND (status IN ('queued', 'running') OR (status = 'interrupted' AND resume_pending = 1)) LIMIT 1`,
      )
      .get(repoId, id);
    // A queued mail whose conversation is resolved only when it is claimed, and whose thread names this id.
    const threadsIn = db
      .prepare(
        `SELECT 1 FROM tasks WHERE repo_id = ? AND status = 'queued' AND conversation_id IS NULL
            AND thread_refs LIKE ? ESCAPE '\\' LIMIT 1`,
      )
      .get(repoId, `%"${id.replace(/[\\%_]/g, '\\$&')}"%`);
    if (pending || threadsIn) return { kind: 'busy' };

    const stats = db
      .prepare(
        `SELECT count(*) AS n, max(${TASK_ACTIVITY}) AS last, min(created_at) AS first FROM tasks WHERE repo_id = ? AND conversation_id = ?`,
      )
      .get(repoId, id) as { n: number; last: number | null; first: number | null };
    const rowActivity = db.prepare(`SELECT last_activity_at FROM conversations WHERE repo_id = ? AND id = ?`).get(repoId, id) as
      | { last_activity_at: number }
      | undefined;
    const lastActivity = Math.max(stats.last ?? 0, rowActivity?.last_activity_at ?? 0);
    if (lastActivity >= cutoff) return { kind: 'active' };

    if (!row) {
      // Only tasks knew it: write the summary from its first task.
      const first = db
        .prepare(`SELECT subject, sender, model FROM tasks WHERE repo_id = ? AND conversation_id = ? ORDER BY id LIMIT 1`)
        .get(repoId, id) as { subject: string; sender: string | null; model: string | null } | undefined;
      db.prepare(
        `INSERT INTO conversations (repo_id, id, model, subject, sender, created_at, last_activity_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(repoId, id, first?.model ?? null, first?.subject ?? '', first?.sender ?? null, stats.first ?? lastActivity, lastActivity);
    }
    db.prepare(
      `UPDATE conversations SET archived_at = ?, task_count = ?, last_activity_at = max(last_activity_at, ?)
        WHERE repo_id = ? AND id = ?`,
    ).run(now, stats.n, lastActivity, repoId, id);

    const taskIds = `SELECT id FROM tasks WHERE repo_id = :repo AND conversation_id = :id`;
    const eventsDeleted = db.prepare(`DELETE FROM task_events WHERE task_id IN (${taskIds})`).run({ repo: repoId, id }).changes;
    forgetConversationFiles(db, repoId, id);
    const bytesFreed = emptyRaw(db, `messages`, `id IN (SELECT message_row FROM tasks WHERE repo_id = :repo AND conversation_id = :id)`, {
      repo: repoId,
      id,
    }) + emptyRaw(db, `outgoing_mail`, `repo_id = :repo AND conversation_id = :id AND status <> 'pending'`, { repo: repoId, id });
    return { kind: 'archived', taskCount: stats.n, eventsDeleted, bytesFreed };
  });
}

/** Empties `raw` of the matching rows that still have bytes; returns how many bytes that freed. */
function emptyRaw(db: Db, table: 'messages' | 'outgoing_mail', where: string, params: Record<string, unknown>): number {
  const freed = db.prepare(`SELECT COALESCE(sum(length(raw)), 0) AS n FROM ${table} WHERE ${where} AND length(raw) > 0`).get(params) as {
    n: number;
  };
  db.prepare(`UPDATE ${table} SET raw = x'' WHERE ${where} AND length(raw) > 0`).run(params);
  return freed.n;
}

/**
 * Mail that belongs to no conversation — rejected mail, and tasks that ended before they were given
 * one — loses its raw bytes once it is older than `cutoff` (the rows stay, as for archived
 * conversations). Returns the bytes freed.
 */
export function compactUnthreadedMail(db: Db, repoId: string, cutoff: number): number {
  return writeTransaction(db, () => {
    const params = { repo: repoId, cutoff };
    return (
      emptyRaw(
        db,
        'messages',
        `id IN (SELECT message_row FROM tasks WHERE repo_id = :repo AND conversation_id IS NULL
                  AND status NOT IN ('queued', 'running') AND created_at < :cutoff)`,
        params,
      ) +
      emptyRaw(db, 'outgoing_mail', `repo_id = :repo AND conversation_id IS NULL AND status <> 'pending' AND created_at < :cutoff`, params)
    );
  });
}
