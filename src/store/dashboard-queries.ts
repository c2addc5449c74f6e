/**
 * Read-only queries behind the dashboard: paged task lists, per-repo counters for /metrics and
 * the repos page, conversations. Every query is shaped to use an existing index
 * (tasks(status,id), tasks(repo_id,id), tasks(repo_id,conversation_id,id), outgoing_mail(status,…),
 * task_events(task_id,id)) or to scan only the rows it counts.
 */
import type { Db } from './database.ts';
import { cachedStatement } from './statement-cache.ts';
import { TASK_COLUMNS, toTaskRow, type TaskRow, type TaskStatus } from './task-queries.ts';

const stmt = cachedStatement;

const compositeIndex = new WeakMap<Db, boolean>();
/**
 * Whether an index on tasks starts with (repo_id, status). Without one, counting by repo and
 * status is fastest as one sequential scan (walking tasks(repo_id,id) and fetching each row's
 * status is four times slower); with one, it is a covering-index scan.
 */
function hasRepoStatusIndex(db: Db): boolean {
  let known = compositeIndex.get(db);
  if (known === undefined) {
    const indexes = db.prepare(`SELECT name FROM pragma_index_list('tasks')`).all() as Array<{ name: string }>;
    known = indexes.some((i) => {
      const cols = (db.prepare(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`).all(i.name) as Array<{ name: string }>).map((c) => c.name);
      return cols[0] === 'repo_id' && cols[1] === 'status';
    });
    compositeIndex.set(db, known);
  }
  return known;
}

/** Statuses that only ever hold a handful of rows: filtering by them is cheapest through tasks(status,id). */
const SMALL_STATUSES: ReadonlySet<string> = new Set(['queued', 'running']);

export const TASK_STATUSES: readonly TaskStatus[] = [
  'queued',
  'running',
  'completed',
  'failed',
  'timeout',
  'cancelled',
  'interrupted',
  'rejected',
  'budget_exceeded',
  'paused',
  'merged',
];

/** States that end a task; a finished task has a duration. */
export const FINISHED_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'timeout', 'cancelled', 'interrupted', 'budget_exceeded', 'paused'];

export function isTaskStatus(v: string): v is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(v);
}


export interface TaskPageQuery {
  readonly repoId?: string | undefined;
  /** Only these repositories (an API token's scope); an empty list matches nothing. */
  readonly repoIds?: readonly string[] | undefined;
  readonly status?: TaskStatus | undefined;
  /** Only tasks with a smaller id (the cursor of the previous page). */
  readonly beforeId?: number | undefined;
  readonly limit: number;
}

export interface TaskPage {
  readonly tasks: TaskRow[];
  /** Cursor of the next (older) page, or null on the last page. */
  readonly nextBefore: number | null;
}

/**
 * Newest first. The cursor is an id, not an offset, so tasks that arrive while someone pages
 * never shift the pages they have not seen yet. One row more than asked tells whether there is
 * a next page without a COUNT.
 */
/** `column IN (?, …)` for a list of repository ids; a constant false for none (SQLite refuses `IN ()`). */
export function repoIdsClause(column: string, ids: readonly string[]): string {
  return ids.length ? `${column} IN (${ids.map(() => '?').join(', ')})` : '0';
}

export function listTaskPage(db: Db, q: TaskPageQuery): TaskPage {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.repoId !== undefined) (where.push('repo_id = ?'), args.push(q.repoId));
  if (q.repoIds !== undefined) (where.push(repoIdsClause('repo_id', q.repoIds)), args.push(...q.repoIds));
  if (q.status !== undefined) (where.push('status = ?'), args.push(q.status));
  if (q.beforeId !== undefined) (where.push('id < ?'), args.push(q.beforeId));
  const limit = Math.min(Math.max(Math.floor(q.limit), 1), 200);
  args.push(limit + 1);
  // With both filters SQLite walks tasks(repo_id,id) and checks each status; for a status that
  // holds few rows the status index is far better. (A (repo_id, status, id) index makes this moot.)
  const hint = q.repoId !== undefined && q.status !== undefined && SMALL_STATUSES.has(q.status) && !hasRepoStatusIndex(db) ? 'INDEXED BY tasks_by_status' : '';
  const rows = stmt(db, `SELECT ${TASK_COLUMNS} FROM tasks ${hint} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(
    ...args,
  ) as Array<Record<string, unknown>>;
  const tasks = rows.slice(0, limit).map(toTaskRow);
  const more = rows.length > limit;
  return { tasks, nextBefore: more && tasks.length ? tasks[tasks.length - 1]!.id : null };
}

export interface RepoStatusCount {
  readonly repoId: string;
  readonly status: TaskStatus;
  readonly count: number;
}

/** Tasks per (repo, status). One pass over the table (or an index); for /metrics and the repos page, not per list request. */
export function countByRepoAndStatus(db: Db): RepoStatusCount[] {
  return (
    stmt(db, `SELECT repo_id, status, count(*) AS n FROM tasks ${hasRepoStatusIndex(db) ? '' : 'NOT INDEXED'} GROUP BY repo_id, status`).all() as Array<{
      repo_id: string;
      status: TaskStatus;
      n: number;
    }>
  ).map((r) => ({ repoId: r.repo_id, status: r.status, count: r.n }));
}

/** Rejected mail per (repo, reason); walks only the rejected rows through tasks(status,id). */
export function countRejectedByReason(db: Db): Array<{ repoId: string; reason: string; count: number }> {
  return (
    db
      .prepare(
        `SELECT repo_id, COALESCE(reason, 'unknown') AS reason, count(*) AS n FROM tasks
          WHERE status = 'rejected' GROUP BY repo_id, COALESCE(reason, 'unknown')`,
      )
      .all() as Array<{ repo_id: string; reason: string; n: number }>
  ).map((r) => ({ repoId: r.repo_id, reason: r.reason, count: r.n }));
}

/** Pending replies per repo, through outgoing_mail(status, next_attempt_at). */
export function countPendingRepliesByRepo(db: Db): Map<string, number> {
  const rows = db
    .prepare(`SELECT repo_id, count(*) AS n FROM outgoing_mail WHERE status = 'pending' GROUP BY repo_id`)
    .all() as Array<{ repo_id: string; n: number }>;
  return new Map(rows.map((r) => [r.repo_id, r.n]));
}

export interface DurationHistogram {
  /** Upper bounds in seconds, ascending; +Inf is implied. */
  readonly bounds: readonly number[];
  /** Cumulative counts per bound (Prometheus `le` semantics), then the +Inf count. */
  readonly cumulative: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/**
 * Run time (finished_at − started_at) of finished tasks, per repo, bucketed in SQL so only a few
 * numbers per repo leave the database.
 */
export function taskDurationHistograms(db: Db, boundsSeconds: readonly number[]): Map<string, DurationHistogram> {
  const bounds = [...boundsSeconds].sort((a, b) => a - b);
  const bucketCols = bounds.map((b, i) => `sum(CASE WHEN d <= ${Number(b)} THEN 1 ELSE 0 END) AS b${i}`).join(', ');
  const finished = FINISHED_STATUSES.map((s) => `'${s}'`).join(',');
  // Most tasks are finished, so a sequential scan beats walking tasks(status,id) and fetching each row.
  const rows = db
    .prepare(
      `SELECT repo_id, count(*) AS n, total(d) AS total${bucketCols ? `, ${bucketCols}` : ''}
         FROM (SELECT repo_id, max(finished_at - started_at, 0) / 1000.0 AS d FROM tasks NOT INDEXED
                WHERE status IN (${finished}) AND started_at IS NOT NULL AND finished_at IS NOT NULL)
        GROUP BY repo_id`,
    )
    .all() as Array<Record<string, number | string>>;
  const out = new Map<string, DurationHistogram>();
  for (const r of rows) {
    const count = Number(r.n);
    out.set(String(r.repo_id), {
      bounds,
      cumulative: [...bounds.map((_, i) => Number(r[`b${i}`] ?? 0)), count],
      sum: Number(r.total),
      count,
    });
  }
  return out;
}

/** Every task of a conversation, oldest first, through tasks(repo_id, conversation_id, id). */
export function listConversationTasks(db: Db, repoId: string, conversationId: string, limit = 1000): TaskRow[] {
  return (
    db
      .prepare(`SELECT ${TASK_COLUMNS} FROM tasks WHERE repo_id = ? AND conversation_id = ? ORDER BY id LIMIT ?`)
      .all(repoId, conversationId, limit) as Array<Record<string, unknown>>
  ).map(toTaskRow);
}

/**
 * What a conversation cost. Claude Code reports `total_cost_usd` accumulated over a session,
 * resumes included, and that is what a task stores; so the total is the largest value of each
 * session (a fresh session after a corrupt one starts again from zero), not the sum of the tasks.
 */
export function conversationCost(tasks: readonly TaskRow[]): number {
  const bySession = new Map<string, number>();
  for (const t of tasks) {
    if (t.costUsd === null) continue;
    const key = t.sessionId ?? `task:${t.id}`;
    bySession.set(key, Math.max(bySession.get(key) ?? 0, t.costUsd));
  }
  let total = 0;
  for (const v of bySession.values()) total += v;
  return total;
}

/** The id of the newest event of a task (0 when none): where a live page resumes. */
export function lastTaskEventId(db: Db, taskId: number): number {
  const r = db.prepare(`SELECT max(id) AS id FROM task_events WHERE task_id = ?`).get(taskId) as { id: number | null };
  return r.id ?? 0;
}

/** Repo ids that have tasks, including repos no longer configured (their history stays visible). */
export function repoIdsWithTasks(db: Db): string[] {
  // A skip-scan over tasks(repo_id, id): one probe per distinct repo instead of a table scan.
  const out: string[] = [];
  let last: string | null = null;
  const first = db.prepare(`SELECT repo_id FROM tasks ORDER BY repo_id LIMIT 1`);
  const next = db.prepare(`SELECT repo_id FROM tasks WHERE repo_id > ? ORDER BY repo_id LIMIT 1`);
  for (let r = first.get() as { repo_id: string } | undefined; r; r = next.get(last) as { repo_id: string } | undefined) {
    out.push(r.repo_id);
    last = r.repo_id;
    if (out.length > 1000) break;
  }
  return out;
}
