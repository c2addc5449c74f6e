/** Read-side queries over tasks, shared by the dashboard, the CLI and the tests. */
import type { Db } from './database.ts';

export type TaskStatus =
  | 'queued'
  | 'running'
  | 'completed'
  | 'failed'
  | 'timeout'
  | 'cancelled'
  | 'interrupted'
  | 'rejected'
  /** Stopped by its budget (--max-budget-usd); a reply "continue" starts a next task with a new one. */
  | 'budget_exceeded'
  /** Transient API failures outlasted the retries; any reply in the thread resumes it. */
  | 'paused'
  /** Handled by another task (`merged_into`): delivered live into its session, or coalesced into it. */
  | 'merged';

export interface TaskRow {
  readonly id: number;
  readonly repoId: string;
  readonly conversationId: string | null;
  readonly sender: string | null;
  readonly subject: string;
  readonly messageId: string | null;
  readonly status: TaskStatus;
  readonly reason: string | null;
  readonly detail: string | null;
  readonly modelHint: string | null;
  readonly model: string | null;
  readonly sessionId: string | null;
  readonly costUsd: number | null;
  readonly turns: number | null;
  readonly error: string | null;
  readonly attempts: number;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Whether the container ran behind the network sandbox; null until it started. */
  readonly networkSandbox: boolean | null;
  /** The effort level (--effort) the task runs with; preset by a schedule, else set from the conversation. */
  readonly effort: string | null;
  /** Automatic retries after transient API failures, over all runs of the task. */
  readonly apiRetries: number;
  /** For a `merged` mail: the task that handled it, and how (live into its session, or coalesced into its run). */
  readonly mergedInto: number | null;
  readonly mergeKind: 'live' | 'coalesced' | null;
}

/** The columns `toTaskRow` reads; every query that returns TaskRows selects exactly these. */
export const TASK_COLUMNS = `id, repo_id, conversation_id, sender, subject, message_id, status, reason, detail, model_hint,
  model, session_id, cost_usd, turns, error, attempts, created_at, started_at, finished_at, network_sandbox,
  effort, api_retries, merged_into, merge_kind`;

export function toTaskRow(r: Record<string, unknown>): TaskRow {
  return {
    id: r.id as number,
    repoId: r.repo_id as string,
    conversationId: (r.conversation_id as string | null) ?? null,
    sender: (r.sender as string | null) ?? null,
    subject: (r.subject as string) ?? '',
    messageId: (r.message_id as string | null) ?? null,
    status: r.status as TaskStatus,
    reason: (r.reason as string | null) ?? null,
    detail: (r.detail as string | null) ?? null,
    modelHint: (r.model_hint as string | null) ?? null,
    model: (r.model as string | null) ?? null,
    sessionId: (r.session_id as string | null) ?? null,
    costUsd: (r.cost_usd as number | null) ?? null,
    turns: (r.turns as number | null) ?? null,
    error: (r.error as string | null) ?? null,
    attempts: (r.attempts as number) ?? 0,
    createdAt: r.created_at as number,
    startedAt: (r.started_at as number | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
    networkSandbox: r.network_sandbox === null || r.network_sandbox === undefined ? null : r.network_sandbox === 1,
    effort: (r.effort as string | null) ?? null,
    apiRetries: (r.api_retries as number | null) ?? 0,
    mergedInto: (r.merged_into as number | null) ?? null,
    mergeKind: (r.merge_kind as 'live' | 'coalesced' | null) ?? null,
  };
}

export function getTask(db: Db, id: number): TaskRow | null {
  const r = db.prepare(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
  return r ? toTaskRow(r) : null;
}

export interface TaskFilter {
  readonly repoId?: string | undefined;
  readonly status?: TaskStatus | undefined;
  /** Cursor: only tasks with an id below this (newest first pagination). */
  readonly beforeId?: number | undefined;
  readonly limit?: number | undefined;
}

export function listTasks(db: Db, f: TaskFilter = {}): TaskRow[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.repoId) (where.push('repo_id = ?'), args.push(f.repoId));
  if (f.status) (where.push('status = ?'), args.push(f.status));
  if (f.beforeId) (where.push('id < ?'), args.push(f.beforeId));
  const sql = `SELECT ${TASK_COLUMNS} FROM tasks ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
               ORDER BY id DESC LIMIT ?`;
  args.push(Math.min(Math.max(f.limit ?? 50, 1), 500));
  return (db.prepare(sql).all(...args) as Array<Record<string, unknown>>).map(toTaskRow);
}

export function countTasksByStatus(db: Db): Array<{ repoId: string; status: TaskStatus; count: number }> {
  return (
    db.prepare(`SELECT repo_id, status, COUNT(*) AS n FROM tasks GROUP BY repo_id, status`).all() as Array<{
      repo_id: string;
      status: TaskStatus;
      n: number;
    }>
  ).map((r) => ({ repoId: r.repo_id, status: r.status, count: r.n }));
}

/** The raw RFC 5322 bytes of the mail behind a task. */
export function getTaskRawMessage(db: Db, taskId: number): Buffer | null {
  const r = db
    .prepare(`SELECT m.raw FROM tasks t JOIN messages m ON m.id = t.message_row WHERE t.id = ?`)
    .get(taskId) as { raw: Buffer } | undefined;
  return r?.raw ?? null;
}

/** What the database keeps of the mail behind a task (migration 7's `messages.stored`). */
export interface TaskMailStorage {
  /** `whole`; `headers` (rejected, or too large to download); `none` (rejected after the day's budget was spent). */
  readonly stored: 'whole' | 'headers' | 'none';
  /** Bytes kept now (0 once retention emptied them). */
  readonly storedBytes: number;
  /** The mail's size as received. */
  readonly size: number;
}

export function getTaskMailStorage(db: Db, taskId: number): TaskMailStorage | null {
  const r = db
    .prepare(`SELECT m.stored, length(m.raw) AS stored_bytes, m.size FROM tasks t JOIN messages m ON m.id = t.message_row WHERE t.id = ?`)
    .get(taskId) as { stored: TaskMailStorage['stored']; stored_bytes: number; size: number } | undefined;
  return r ? { stored: r.stored, storedBytes: r.stored_bytes, size: r.size } : null;
}

/** Whether an older task of this repository already used the conversation id. */
export function hasEarlierTaskInConversation(db: Db, repoId: string, conversationId: string, taskId: number): boolean {
  return !!db.prepare(`SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ? AND id < ? LIMIT 1`).get(repoId, conversationId, taskId);
}
