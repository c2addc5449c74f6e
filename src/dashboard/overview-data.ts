/**
 * The numbers of the Overview page, as one object: `GET /api/overview` returns it as JSON and the
 * page draws its charts from it, so what a script reads is exactly what a person sees. Every
 * series has one value per day of the range (oldest first), zero or null where nothing happened.
 */
import type { Db } from '../store/database.ts';
import {
  costPerDayByRepo,
  DAY_MS,
  queueWaitPercentiles,
  rejectedByReason,
  runTimePercentiles,
  tasksPerDayByStatus,
  type DayPercentiles,
  type OverviewRange,
  type ReasonCount,
} from '../store/overview-stats.ts';
import { DashboardError } from './http-error.ts';

export const OVERVIEW_DAYS = [7, 30, 90] as const;
export type OverviewDays = (typeof OVERVIEW_DAYS)[number];
export const DEFAULT_OVERVIEW_DAYS: OverviewDays = 30;
/** Longer than any repository id the configuration allows; a longer `repo=` is a mistake, not a filter. */
const MAX_REPO_PARAM = 200;

/** Which statuses stack first (finished outcomes, then the ones still moving); others follow by name. */
const STATUS_ORDER = ['completed', 'failed', 'timeout', 'budget_exceeded', 'cancelled', 'interrupted', 'paused', 'merged', 'rejected', 'running', 'queued'];

export interface NamedSeries {
  readonly name: string;
  readonly values: readonly number[];
}

/** Nearest-rank percentiles per day in ms (null: nothing to rank that day) and how many values were ranked. */
export interface PercentileSeries {
  readonly count: readonly number[];
  readonly p50: readonly (number | null)[];
  readonly p90: readonly (number | null)[];
  readonly p99: readonly (number | null)[];
}

export interface OverviewData {
  readonly days: OverviewDays;
  /** The repository filter, or null for all. */
  readonly repo: string | null;
  /** UTC dates, `YYYY-MM-DD`, oldest first; the last is today. */
  readonly dates: readonly string[];
  /** Tasks received per day by their status now; statuses with no task in the range are left out. */
  readonly tasksByOutcome: readonly NamedSeries[];
  /** USD of the tasks that finished each day, one series per repository with any cost. */
  readonly costByRepo: readonly NamedSeries[];
  readonly queueWaitMs: PercentileSeries;
  readonly runTimeMs: PercentileSeries;
  /** Rejected mail received in the range, by reason, most frequent first. */
  readonly rejectedByReason: readonly ReasonCount[];
}

export interface OverviewParams {
  readonly days: OverviewDays;
  readonly repo: string | null;
  /** The request's scope (undefined: every repository); not part of the figures' JSON. */
  readonly repoIds?: readonly string[] | undefined;
}

/** `days=7|30|90` (default 30) and `repo=` (empty: all); anything else is a 400 that says what to send. */
export function parseOverviewParams(days: string | undefined, repo: string | undefined): OverviewParams {
  let d: OverviewDays = DEFAULT_OVERVIEW_DAYS;
  if (days !== undefined && days !== '') {
    const n = OVERVIEW_DAYS.find((x) => String(x) === days);
    if (n === undefined) throw new DashboardError(400, `days must be one of ${OVERVIEW_DAYS.join(', ')} (the default is ${DEFAULT_OVERVIEW_DAYS})`);
    d = n;
  }
  if (repo !== undefined && repo.length > MAX_REPO_PARAM) throw new DashboardError(400, `repo must be a repository id (at most ${MAX_REPO_PARAM} characters)`);
  return { days: d, repo: repo === undefined || repo === '' ? null : repo };
}

/** The last `days` whole UTC days up to and including today's. */
export function overviewRange(p: OverviewParams, now: number): OverviewRange & { dates: string[] } {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const since = today - (p.days - 1) * DAY_MS;
  const dates = Array.from({ length: p.days }, (_, i) => new Date(since + i * DAY_MS).toISOString().slice(0, 10));
  return { since, until: today + DAY_MS, repoId: p.repo ?? undefined, repoIds: p.repoIds, dates };
}

function statusRank(s: string): number {
  const i = STATUS_ORDER.indexOf(s);
  return i < 0 ? STATUS_ORDER.length : i;
}

/** Rows keyed by day and name → one series per name, a value per date, in `order`. */
function toSeries<R extends { day: string }>(
  rows: readonly R[],
  dates: readonly string[],
  name: (r: R) => string,
  value: (r: R) => number,
  order: (a: string, b: string) => number,
): NamedSeries[] {
  const index = new Map(dates.map((d, i) => [d, i]));
  const byName = new Map<string, number[]>();
  for (const r of rows) {
    const i = index.get(r.day);
    if (i === undefined) continue;
    let values = byName.get(name(r));
    if (!values) byName.set(name(r), (values = dates.map(() => 0)));
    values[i] = value(r);
  }
  return [...byName.keys()].sort(order).map((n) => ({ name: n, values: byName.get(n)! }));
}

function toPercentiles(rows: readonly DayPercentiles[], dates: readonly string[]): PercentileSeries {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const pick = (f: (r: DayPercentiles) => number): (number | null)[] => dates.map((d) => (byDay.has(d) ? f(byDay.get(d)!) : null));
  return { count: dates.map((d) => byDay.get(d)?.count ?? 0), p50: pick((r) => r.p50), p90: pick((r) => r.p90), p99: pick((r) => r.p99) };
}

export function loadOverview(db: Db, p: OverviewParams, now: number): OverviewData {
  const range = overviewRange(p, now);
  const { dates } = range;
  return {
    days: p.days,
    repo: p.repo,
    dates,
    tasksByOutcome: toSeries(tasksPerDayByStatus(db, range), dates, (r) => r.status, (r) => r.count, (a, b) => statusRank(a) - statusRank(b) || a.localeCompare(b)),
    costByRepo: toSeries(costPerDayByRepo(db, range), dates, (r) => r.repoId, (r) => r.usd, (a, b) => a.localeCompare(b)),
    queueWaitMs: toPercentiles(queueWaitPercentiles(db, range), dates),
    runTimeMs: toPercentiles(runTimePercentiles(db, range), dates),
    rejectedByReason: rejectedByReason(db, range),
  };
}
