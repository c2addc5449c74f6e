/**
 * What the repositories page and /api/repos both show: every configured repository (in the
 * configuration's order) and any other that still has tasks, with listener health, task counts
 * replies waiting to be sent, and what finished tasks cost (the repository's and each sender's, over
 * the last 24 hours and this calendar month). Read once per request.
 */
import { countByRepoAndStatus, countPendingRepliesByRepo, type RepoStatusCount } from '../store/dashboard-queries.ts';
import { loadRepoStatuses, type RepoStatusRow } from '../store/repo-status.ts';
import { finishedSpend, spendBySender, type SenderSpend, type SpendSummary } from '../store/spend.ts';
import { configuredRepoIds, type DashboardDeps } from './context.ts';
import { assessHealth, type HealthReport } from './health.ts';

export interface RepoOverview {
  /** The configured repos. */
  readonly repoIds: readonly string[];
  /** The configured repos, then (sorted) those only the task rows still name. */
  readonly shownIds: readonly string[];
  readonly byRepo: ReadonlyMap<string, RepoStatusRow>;
  readonly health: HealthReport;
  readonly counts: readonly RepoStatusCount[];
  readonly pending: ReadonlyMap<string, number>;
  readonly spend: ReadonlyMap<string, RepoSpend>;
}

/** Finished tasks' cost: the repository's, and each sender's who spent anything in the periods. */
export interface RepoSpend {
  readonly total: SpendSummary;
  readonly bySender: readonly SenderSpend[];
}

export function loadRepoOverview(d: DashboardDeps): RepoOverview {
  const { db } = d.o;
  const repoIds = configuredRepoIds(d);
  const statuses = loadRepoStatuses(db);
  const health = assessHealth({ repoIds, statuses, problems: [], now: d.now(), since: d.since });
  const counts = countByRepoAndStatus(db);
  const extra = [...new Set(counts.map((x) => x.repoId))].filter((r) => !repoIds.includes(r)).sort();
  const now = d.now();
  const spend = new Map([...repoIds, ...extra].map((id) => [id, { total: finishedSpend(db, id, null, now), bySender: spendBySender(db, id, now) }]));
  return {
    repoIds,
    shownIds: [...repoIds, ...extra],
    byRepo: new Map(statuses.map((s) => [s.repoId, s])),
    health,
    counts,
    pending: countPendingRepliesByRepo(db),
    spend,
  };
}
