/**
 * What /metrics shows, read from the totals that migration 20's triggers keep (metric_task_counts,
 * metric_task_durations, metric_spend, metric_replies_pending): a few rows per repository, whatever
 * the size of the tasks table. src/dashboard/metrics-recount.ts computes the same figures from the
 * rows themselves; the tests hold the two equal.
 */
import type { Db } from './database.ts';
import type { DurationHistogram, RepoStatusCount } from './dashboard-queries.ts';
import type { SpendTotal } from './spend.ts';
import { cachedStatement } from './statement-cache.ts';
import type { TaskStatus } from './task-queries.ts';

/** Seconds. Fixed by migration 20's triggers, which bucket each task as it finishes. */
export const DURATION_BOUNDS: readonly number[] = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export interface MetricFigures {
  /** Tasks per (repo, status) ever recorded: a deleted task stays counted in the status it had. */
  readonly tasksByRepoStatus: readonly RepoStatusCount[];
  /** Rejected mail per (repo, reason), deleted rows included. */
  readonly rejectedByReason: ReadonlyArray<{ readonly repoId: string; readonly reason: string; readonly count: number }>;
  /** Tasks in the table now whose status is queued or running, per repo (the gauges). */
  readonly queued: ReadonlyMap<string, number>;
  readonly running: ReadonlyMap<string, number>;
  /** Per repo with a finished task; bounds are DURATION_BOUNDS. */
  readonly durations: ReadonlyMap<string, DurationHistogram>;
  readonly repliesPending: ReadonlyMap<string, number>;
  /** Ordered by repo, then sender. */
  readonly spend: readonly SpendTotal[];
}

/** One read transaction, so a task that finished between two statements is counted everywhere or nowhere. */
export function readMetricTotals(db: Db): MetricFigures {
  return db.transaction(() => readAll(db))();
}

function readAll(db: Db): MetricFigures {
  const counts = cachedStatement(db, `SELECT repo_id, status, reason, live, removed FROM metric_task_counts WHERE live + removed > 0`).all() as Array<{
    repo_id: string;
    status: TaskStatus;
    reason: string;
    live: number;
    removed: number;
  }>;
  const byRepoStatus = new Map<string, RepoStatusCount>();
  const rejectedByReason: Array<{ repoId: string; reason: string; count: number }> = [];
  const queued = new Map<string, number>();
  const running = new Map<string, number>();
  for (const c of counts) {
    const key = `${c.repo_id}\u0000${c.status}`;
    const prev = byRepoStatus.get(key)?.count ?? 0;
    byRepoStatus.set(key, { repoId: c.repo_id, status: c.status, count: prev + c.live + c.removed });
    if (c.status === 'rejected') rejectedByReason.push({ repoId: c.repo_id, reason: c.reason, count: c.live + c.removed });
    if (c.status === 'queued') queued.set(c.repo_id, c.live);
    if (c.status === 'running') running.set(c.repo_id, c.live);
  }
  return {
    tasksByRepoStatus: [...byRepoStatus.values()],
    rejectedByReason,
    queued,
    running,
    durations: readDurations(db),
    repliesPending: new Map(
      (cachedStatement(db, `SELECT repo_id, n FROM metric_replies_pending`).all() as Array<{ repo_id: string; n: number }>).map((r) => [r.repo_id, r.n]),
    ),
    spend: cachedStatement(db, `SELECT repo_id AS repoId, sender, usd FROM metric_spend WHERE tasks > 0 ORDER BY repo_id, sender`).all() as SpendTotal[],
  };
}

function readDurations(db: Db): Map<string, DurationHistogram> {
  const rows = cachedStatement(db, `SELECT repo_id, bucket, n, sum_ms FROM metric_task_durations ORDER BY repo_id, bucket`).all() as Array<{
    repo_id: string;
    bucket: number;
    n: number;
    sum_ms: number;
  }>;
  const perBucket = new Map<string, { counts: number[]; sumMs: number }>();
  for (const r of rows) {
    let h = perBucket.get(r.repo_id);
    if (!h) perBucket.set(r.repo_id, (h = { counts: [...DURATION_BOUNDS.map(() => 0), 0], sumMs: 0 }));
    h.counts[r.bucket] = (h.counts[r.bucket] ?? 0) + r.n;
    h.sumMs += r.sum_ms;
  }
  const out = new Map<string, DurationHistogram>();
  for (const [repoId, h] of perBucket) {
    const count = h.counts.reduce((a, b) => a + b, 0);
    if (count === 0) continue;
    let running = 0;
    const cumulative = DURATION_BOUNDS.map((_, i) => (running += h.counts[i]!));
    out.set(repoId, { bounds: DURATION_BOUNDS, cumulative: [...cumulative, count], sum: h.sumMs / 1000, count });
  }
  return out;
}
