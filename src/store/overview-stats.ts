/**
 * The Overview page's aggregates (src/dashboard/overview-data.ts), grouped by UTC day in SQLite.
 *
 * Which time a row counts on: tasks, waits and run times on the day the mail arrived
 * (`created_at`); cost on the day the task finished (`finished_at`), as the spend caps count it
 * (spend.ts), so the chart and the caps agree.
 *
 * Percentiles are nearest-rank: of n values sorted ascending, the p-th percentile is the value at
 * 1-based rank ceil(p·n/100) — always a value that occurred, never an interpolation.
 *
 * Measured once (2026-12-03, a shared 2-core machine under load, best of 3): 100,000 tasks spread
 * over 90 days in 3 repositories; over 90 days, all repositories: tasks 75 ms, cost 110 ms, each
 * percentile query 220-240 ms (it sorts every row of the range), rejected 7 ms; over 30 days or one
 * repository about a third of that. No index is added (no migration 16): a range covering most rows
 * is a scan whatever the index, and the route caches its answer for a while (routes/overview.ts).
 */
import { repoIdsClause } from './dashboard-queries.ts';
import type { Db } from './database.ts';

export const DAY_MS = 86_400_000;

/** A time range of whole UTC days: `[since, until)` in epoch ms; `repoId` narrows to one repository. */
export interface OverviewRange {
  readonly since: number;
  readonly until: number;
  readonly repoId?: string | undefined;
  /** Only these repositories (an API token's scope); an empty list matches nothing. */
  readonly repoIds?: readonly string[] | undefined;
}

/** `day` is the UTC date, `YYYY-MM-DD`. */
export interface DayStatusCount {
  readonly day: string;
  readonly status: string;
  readonly count: number;
}

export interface DayRepoCost {
  readonly day: string;
  readonly repoId: string;
  readonly usd: number;
}

/** Nearest-rank percentiles of one day's durations in ms; `count` values were ranked. */
export interface DayPercentiles {
  readonly day: string;
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface ReasonCount {
  readonly reason: string;
  readonly count: number;
}

const DAY_SQL = (column: string): string => `strftime('%Y-%m-%d', ${column} / 1000, 'unixepoch')`;

function repoClause(r: OverviewRange): { sql: string; args: string[] } {
  const one = r.repoId === undefined ? { sql: '', args: [] } : { sql: ' AND repo_id = ?', args: [r.repoId] };
  if (r.repoIds === undefined) return one;
  return { sql: `${one.sql} AND ${repoIdsClause('repo_id', r.repoIds)}`, args: [...one.args, ...r.repoIds] };
}

/** Tasks received per day, by their status now. */
export function tasksPerDayByStatus(db: Db, r: OverviewRange): DayStatusCount[] {
  const repo = repoClause(r);
  return db
    .prepare(
      `SELECT ${DAY_SQL('created_at')} AS day, status, count(*) AS count FROM tasks
       WHERE created_at >= ? AND created_at < ?${repo.sql}
       GROUP BY day, status ORDER BY day, status`,
    )
    .all(r.since, r.until, ...repo.args) as unknown as DayStatusCount[];
}

/** Recorded cost of the tasks that finished each day, per repository. */
export function costPerDayByRepo(db: Db, r: OverviewRange): DayRepoCost[] {
  const repo = repoClause(r);
  return db
    .prepare(
      `SELECT ${DAY_SQL('finished_at')} AS day, repo_id AS repoId, total(cost_usd) AS usd FROM tasks
       WHERE cost_usd IS NOT NULL AND finished_at >= ? AND finished_at < ?${repo.sql}
       GROUP BY day, repo_id ORDER BY day, repo_id`,
    )
    .all(r.since, r.until, ...repo.args) as unknown as DayRepoCost[];
}

/** `value` is an SQL expression over tasks' columns; rows where it is NULL are left out. */
function percentilesPerDay(db: Db, r: OverviewRange, value: string): DayPercentiles[] {
  const repo = repoClause(r);
  // (p·n + 99) / 100 in integer arithmetic is ceil(p·n/100): the nearest rank.
  return db
    .prepare(
      `WITH v AS (
         SELECT ${DAY_SQL('created_at')} AS day, ${value} AS ms FROM tasks
         WHERE created_at >= ? AND created_at < ?${repo.sql} AND ${value} IS NOT NULL
       ), ranked AS (
         SELECT day, ms, row_number() OVER (PARTITION BY day ORDER BY ms) AS rn, count(*) OVER (PARTITION BY day) AS n FROM v
       )
       SELECT day, max(n) AS count,
         max(CASE WHEN rn = (50 * n + 99) / 100 THEN ms END) AS p50,
         max(CASE WHEN rn = (90 * n + 99) / 100 THEN ms END) AS p90,
         max(CASE WHEN rn = (99 * n + 99) / 100 THEN ms END) AS p99
       FROM ranked GROUP BY day ORDER BY day`,
    )
    .all(r.since, r.until, ...repo.args) as unknown as DayPercentiles[];
}

/** How long mail waited in the queue: from arrival to the start of its (latest) run. */
export function queueWaitPercentiles(db: Db, r: OverviewRange): DayPercentiles[] {
  return percentilesPerDay(db, r, 'started_at - created_at');
}

/** How long finished tasks ran: from start to finish. */
export function runTimePercentiles(db: Db, r: OverviewRange): DayPercentiles[] {
  return percentilesPerDay(db, r, 'finished_at - started_at');
}

/** Rejected mail in the range by reason, most frequent first; a missing reason counts as `unknown`. */
export function rejectedByReason(db: Db, r: OverviewRange): ReasonCount[] {
  const repo = repoClause(r);
  return db
    .prepare(
      `SELECT COALESCE(reason, 'unknown') AS reason, count(*) AS count FROM tasks
       WHERE status = 'rejected' AND created_at >= ? AND created_at < ?${repo.sql}
       GROUP BY 1 ORDER BY count DESC, reason`,
    )
    .all(r.since, r.until, ...repo.args) as unknown as ReasonCount[];
}
