/**
 * What the repositories page and /api/repos both show: every configured repository (in the
 * configuration's order) and any other that still has tasks, with listener health, task counts
 * and replies waiting to be sent. Read once per request.
 */
import { countByRepoAndStatus, countPendingRepliesByRepo, type RepoStatusCount } from '../store/dashboard-queries.ts';
import { loadRepoStatuses, type RepoStatusRow } from '../store/repo-status.ts';
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
}

export function loadRepoOverview(d: DashboardDeps): RepoOverview {
  const { db } = d.o;
  const repoIds = configuredRepoIds(d);
  const statuses = loadRepoStatuses(db);
  const health = assessHealth({ repoIds, statuses, problems: [], now: d.now(), since: d.since });
  const counts = countByRepoAndStatus(db);
  const extra = [...new Set(counts.map((x) => x.repoId))].filter((r) => !repoIds.includes(r)).sort();
  return {
    repoIds,
    shownIds: [...repoIds, ...extra],
    byRepo: new Map(statuses.map((s) => [s.repoId, s])),
    health,
    counts,
    pending: countPendingRepliesByRepo(db),
  };
}
