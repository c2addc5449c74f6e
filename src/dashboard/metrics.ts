/**
 * /metrics in the Prometheus text exposition format 0.0.4. The numbers come from totals the
 * database keeps with triggers in the same transaction as every write they count (migration 20,
 * src/store/metric-totals.ts), so a scrape reads a few rows whatever the number of tasks, counters
 * survive restarts and never disagree with the pages. A deleted task leaves the gauges but not the
 * counters, which never go down. `collectMetrics` reads; `snapshotFromFigures` and `renderMetrics` are pure.
 */
import type { Db } from '../store/database.ts';
import { FINISHED_STATUSES, type DurationHistogram } from '../store/dashboard-queries.ts';
import { DURATION_BOUNDS, readMetricTotals, type MetricFigures } from '../store/metric-totals.ts';
import { loadRepoStatuses } from '../store/repo-status.ts';
import type { SpendTotal } from '../store/spend.ts';
import type { ListenerState } from '../protocol/listener-status.ts';
import type { TaskStatus } from '../store/task-queries.ts';

export const LISTENER_STATES: readonly ListenerState[] = [
  'starting',
  'connecting',
  'idle',
  'polling',
  'processing',
  'backoff',
  'error',
  'stopped',
];

/** Seconds. Tasks run from seconds to an hour or more (the per-repo timeout). */
export const DURATION_BUCKETS: readonly number[] = DURATION_BOUNDS;

export interface RepoMetrics {
  readonly received: number;
  readonly accepted: number;
  readonly rejectedByReason: ReadonlyMap<string, number>;
  readonly tasksByStatus: ReadonlyMap<TaskStatus, number>;
  readonly duration: DurationHistogram;
  readonly queueDepth: number;
  readonly running: number;
  /** null when the listener has not reported. */
  readonly listenerState: ListenerState | null;
  readonly repliesPending: number;
}

export interface MetricsSnapshot {
  readonly repos: ReadonlyMap<string, RepoMetrics>;
  /** What finished tasks cost, per repository and sender (sender '' when the mail had none). */
  readonly spend: readonly SpendTotal[];
}

export function collectMetrics(db: Db, configuredRepoIds: readonly string[]): MetricsSnapshot {
  return snapshotFromFigures(readMetricTotals(db), new Map(loadRepoStatuses(db).map((s) => [s.repoId, s.state])), configuredRepoIds);
}

/** Every configured repository, and every repository that ever had a task, sorted by id. */
export function snapshotFromFigures(
  f: MetricFigures,
  listenerStates: ReadonlyMap<string, ListenerState>,
  configuredRepoIds: readonly string[],
): MetricsSnapshot {
  const ids = new Set<string>(configuredRepoIds);
  for (const c of f.tasksByRepoStatus) ids.add(c.repoId);

  const emptyHistogram: DurationHistogram = {
    bounds: DURATION_BUCKETS,
    cumulative: [...DURATION_BUCKETS.map(() => 0), 0],
    sum: 0,
    count: 0,
  };
  const repos = new Map<string, RepoMetrics>();
  for (const id of [...ids].sort()) {
    const byStatus = new Map<TaskStatus, number>();
    for (const c of f.tasksByRepoStatus) if (c.repoId === id) byStatus.set(c.status, c.count);
    const byReason = new Map<string, number>();
    for (const r of f.rejectedByReason) if (r.repoId === id) byReason.set(r.reason, r.count);
    let received = 0;
    for (const n of byStatus.values()) received += n;
    repos.set(id, {
      received,
      accepted: received - (byStatus.get('rejected') ?? 0),
      rejectedByReason: byReason,
      tasksByStatus: byStatus,
      duration: f.durations.get(id) ?? emptyHistogram,
      queueDepth: f.queued.get(id) ?? 0,
      running: f.running.get(id) ?? 0,
      listenerState: configuredRepoIds.includes(id) ? (listenerStates.get(id) ?? null) : null,
      repliesPending: f.repliesPending.get(id) ?? 0,
    });
  }
  return { repos, spend: f.spend };
}

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
export function escapeLabelValue(v: string): string {
  // Most values need nothing; the test is cheaper than three replaces over ~1,500 series per scrape.
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

export function renderMetrics(s: MetricsSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: string[]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const perRepo = (name: string, value: (m: RepoMetrics) => number): string[] =>
    [...s.repos].map(([repo, m]) => `${name}${labels({ repo })} ${num(value(m))}`);

  family('airut_mail_received_total', 'counter', 'Mail recorded per repository (accepted and rejected; re-deliveries of the same mail count once).', perRepo('airut_mail_received_total', (m) => m.received));
  family('airut_mail_accepted_total', 'counter', 'Mail that passed authentication and authorization and became a task.', perRepo('airut_mail_accepted_total', (m) => m.accepted));
  family(
    'airut_mail_rejected_total',
    'counter',
    'Mail refused, by reason (auth_failed, unauthorized, loop, malformed: never answered; too_large, rate_limited, spend_capped: answered once).',
    [...s.repos].flatMap(([repo, m]) =>
      [...m.rejectedByReason].sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => `airut_mail_rejected_total${labels({ repo, reason })} ${num(n)}`),
    ),
  );
  family(
    'airut_tasks_total',
    'counter',
    'Tasks that reached an outcome, by status (completed, failed, timeout, cancelled, interrupted, budget_exceeded, paused).',
    [...s.repos].flatMap(([repo, m]) =>
      FINISHED_STATUSES.map((status) => `airut_tasks_total${labels({ repo, status })} ${num(m.tasksByStatus.get(status) ?? 0)}`),
    ),
  );
  family(
    'airut_task_duration_seconds',
    'histogram',
    'Run time of finished tasks (start of the run to its outcome), in seconds.',
    [...s.repos].flatMap(([repo, m]) => [
      ...m.duration.bounds.map((b, i) => `airut_task_duration_seconds_bucket${labels({ repo, le: num(b) })} ${num(m.duration.cumulative[i] ?? 0)}`),
      `airut_task_duration_seconds_bucket${labels({ repo, le: '+Inf' })} ${num(m.duration.count)}`,
      `airut_task_duration_seconds_sum${labels({ repo })} ${num(m.duration.sum)}`,
      `airut_task_duration_seconds_count${labels({ repo })} ${num(m.duration.count)}`,
    ]),
  );
  family('airut_queue_depth', 'gauge', 'Tasks waiting to run.', perRepo('airut_queue_depth', (m) => m.queueDepth));
  family('airut_tasks_running', 'gauge', 'Tasks running now.', perRepo('airut_tasks_running', (m) => m.running));
  family(
    'airut_listener_state',
    'gauge',
    "The mail listener's current state: 1 for the state it is in, 0 for the others (all 0 before it reports).",
    [...s.repos].flatMap(([repo, m]) => LISTENER_STATES.map((state) => `airut_listener_state${labels({ repo, state })} ${m.listenerState === state ? 1 : 0}`)),
  );
  family('airut_replies_pending', 'gauge', 'Replies written but not yet handed to the SMTP server.', perRepo('airut_replies_pending', (m) => m.repliesPending));
  family(
    'airut_spend_usd_total',
    'counter',
    "What finished tasks cost in USD (Claude Code's reported cost, each task's own), per repository and sender.",
    s.spend.map((t) => `airut_spend_usd_total${labels({ repo: t.repoId, sender: t.sender })} ${num(t.usd)}`),
  );
  return out.join('\n') + '\n';
}
