/**
 * The durable queue: which task runs next, and the transitions of a running task.
 *
 * A task is runnable when it is `queued` and no other task of its conversation is `running`
 * (follow-ups wait for the running one). Oldest first. Claiming assigns the conversation:
 * the first of the mail's thread references that this repo already knows (and has not archived),
 * else a new id.
 * A running task holds a lease that its runner renews; a lapsed lease means the runner is gone.
 */
import { randomBytes } from 'node:crypto';
import { writeTransaction, type Db } from './database.ts';
import { getTask, type TaskRow, type TaskStatus } from './task-queries.ts';

export const LEASE_MS = 90_000;

export interface ClaimedTask {
  readonly task: TaskRow;
  readonly conversationId: string;
  /** True when no earlier task of this repo used this conversation id. */
  readonly isNewConversation: boolean;
  /** True when this is a re-run of a task interrupted by a shutdown or crash. */
  readonly isResume: boolean;
}

/**
 * Whether a mail's thread may continue this conversation: it is known to the repo and not archived
 * (its files are gone; a reply to it starts a new conversation). See conversation-gc.ts.
 */
function conversationResumable(db: Db, repoId: string, id: string): boolean {
  const row = db.prepare(`SELECT archived_at FROM conversations WHERE repo_id = ? AND id = ?`).get(repoId, id) as
    | { archived_at: number | null }
    | undefined;
  if (row) return row.archived_at === null;
  return !!db.prepare(`SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ? LIMIT 1`).get(repoId, id);
}

/** Whether any record uses this id, archived ones included: a new conversation never reuses one. */
function conversationIdTaken(db: Db, repoId: string, id: string): boolean {
  return !!db
    .prepare(
      `SELECT 1 FROM conversations WHERE repo_id = ? AND id = ?
       UNION ALL SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ? LIMIT 1`,
    )
    .get(repoId, id, repoId, id);
}

function newConversationId(db: Db, repoId: string): string {
  for (;;) {
    const id = randomBytes(4).toString('hex');
    if (!conversationIdTaken(db, repoId, id)) return id;
  }
}

function conversationBusy(db: Db, repoId: string, conversationId: string): boolean {
  return !!db
    .prepare(`SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ? AND status = 'running' LIMIT 1`)
    .get(repoId, conversationId);
}

/** Claims the oldest runnable task, or returns null. */
export function claimNextTask(db: Db, now: number = Date.now()): ClaimedTask | null {
  return writeTransaction(db, () => {
    const candidates = db
      .prepare(
        `SELECT id, repo_id, conversation_id, thread_refs, status FROM tasks
         WHERE status = 'queued' ORDER BY id LIMIT 200`,
      )
      .all() as Array<{ id: number; repo_id: string; conversation_id: string | null; thread_refs: string; status: TaskStatus }>;
    for (const c of candidates) {
      let conversationId = c.conversation_id;
      let isNew = false;
      if (!conversationId) {
        const refs = safeRefs(c.thread_refs);
        conversationId = refs.find((id) => conversationResumable(db, c.repo_id, id)) ?? null;
        if (!conversationId) {
          conversationId = newConversationId(db, c.repo_id);
          isNew = true;
        }
      }
      if (!isNew && conversationBusy(db, c.repo_id, conversationId)) {
        // Remember the resolution so the dashboard shows the conversation while it waits.
        db.prepare(`UPDATE tasks SET conversation_id = ? WHERE id = ?`).run(conversationId, c.id);
        continue;
      }
      const isResume = (db.prepare(`SELECT attempts FROM tasks WHERE id = ?`).get(c.id) as { attempts: number }).attempts > 0;
      db.prepare(
        `UPDATE tasks SET status = 'running', conversation_id = ?, started_at = ?, lease_until = ?,
                attempts = attempts + 1, finished_at = NULL, resume_pending = 0, error = NULL
         WHERE id = ?`,
      ).run(conversationId, now, now + LEASE_MS, c.id);
      return { task: getTask(db, c.id)!, conversationId, isNewConversation: isNew, isResume };
    }
    return null;
  });
}

function safeRefs(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && /^[0-9a-f]{8}$/.test(x)) : [];
  } catch {
    return [];
  }
}

export function renewLease(db: Db, taskId: number, now: number = Date.now()): void {
  db.prepare(`UPDATE tasks SET lease_until = ? WHERE id = ? AND status = 'running'`).run(now + LEASE_MS, taskId);
}

export function countRunning(db: Db): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE status = 'running'`).get() as { n: number }).n;
}

export function countQueued(db: Db): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE status = 'queued'`).get() as { n: number }).n;
}

/**
 * Recovery of tasks whose runner is gone. At start-up (`all`): every `running` task (its process
 * died: SIGKILL, power loss) and every `interrupted` task with `resume_pending` (a shutdown stopped
 * it). In the periodic sweep: `running` tasks whose lease lapsed, except those the caller still
 * tracks (`alive`). Each goes back to `queued` to run once more, resuming its session, unless it
 * already had `maxAttempts` tries: then it ends `interrupted` with an error, and the caller tells
 * the sender.
 */
export function requeueLapsedTasks(
  db: Db,
  opts: { all?: boolean; maxAttempts?: number; alive?: ReadonlySet<number> } = {},
  now: number = Date.now(),
): { requeued: number[]; abandoned: number[] } {
  const maxAttempts = opts.maxAttempts ?? 2;
  return writeTransaction(db, () => {
    const rows = (
      opts.all
        ? db.prepare(`SELECT id, attempts FROM tasks WHERE status = 'running' OR (status = 'interrupted' AND resume_pending = 1)`).all()
        : db.prepare(`SELECT id, attempts FROM tasks WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?)`).all(now)
    ) as Array<{ id: number; attempts: number }>;
    const requeued: number[] = [];
    const abandoned: number[] = [];
    for (const r of rows) {
      if (opts.alive?.has(r.id)) continue;
      if (r.attempts < maxAttempts) {
        db.prepare(`UPDATE tasks SET status = 'queued', lease_until = NULL, finished_at = NULL WHERE id = ?`).run(r.id);
        requeued.push(r.id);
      } else {
        db.prepare(
          `UPDATE tasks SET status = 'interrupted', lease_until = NULL, finished_at = ?, resume_pending = 0,
                  error = 'interrupted twice (shutdown or crash); not retried again' WHERE id = ?`,
        ).run(now, r.id);
        abandoned.push(r.id);
      }
    }
    return { requeued, abandoned };
  });
}

export interface TaskOutcomeUpdate {
  readonly status: Extract<TaskStatus, 'completed' | 'failed' | 'timeout' | 'cancelled' | 'interrupted'>;
  /** With `interrupted`: run it again after the restart. */
  readonly resumePending?: boolean;
  readonly model?: string | null;
  readonly sessionId?: string | null;
  readonly costUsd?: number | null;
  readonly turns?: number | null;
  readonly error?: string | null;
}

/** Records the end of a run. Call inside the transaction that also enqueues the reply. */
export function finishTask(db: Db, taskId: number, u: TaskOutcomeUpdate, now: number = Date.now()): void {
  db.prepare(
    `UPDATE tasks SET status = ?, model = COALESCE(?, model), session_id = COALESCE(?, session_id),
            cost_usd = COALESCE(?, cost_usd), turns = COALESCE(?, turns), error = ?, finished_at = ?, lease_until = NULL,
            resume_pending = ?
     WHERE id = ?`,
  ).run(u.status, u.model ?? null, u.sessionId ?? null, u.costUsd ?? null, u.turns ?? null, u.error ?? null, now, u.resumePending ? 1 : 0, taskId);
}
