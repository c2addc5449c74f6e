/**
 * The figures of /metrics computed from the rows themselves (one pass over the tasks table for the
 * counts, one for the histogram: ~300 ms at 100,000 tasks), as /metrics did before migration 20.
 * Not served: it is the reference the trigger-kept totals (src/store/metric-totals.ts) are held equal
 * to by the tests, and the "before" figure of scripts/bench/metrics.ts. It sees only rows that
 * exist, so after a task is deleted the two differ in the counters by design.
 */
import {
  countByRepoAndStatus,
  countPendingRepliesByRepo,
  countRejectedByReason,
  taskDurationHistograms,
} from '../store/dashboard-queries.ts';
import type { Db } from '../store/database.ts';
import { DURATION_BOUNDS, type MetricFigures } from '../store/metric-totals.ts';
import { spendTotals } from '../store/spend.ts';

export function recountMetricFigures(db: Db): MetricFigures {
  const counts = countByRepoAndStatus(db);
  const gauge = (status: string): Map<string, number> => new Map(counts.filter((c) => c.status === status).map((c) => [c.repoId, c.count]));
  return {
    tasksByRepoStatus: counts,
    rejectedByReason: countRejectedByReason(db),
    queued: gauge('queued'),
    running: gauge('running'),
    durations: taskDurationHistograms(db, DURATION_BOUNDS),
    repliesPending: countPendingRepliesByRepo(db),
    spend: spendTotals(db),
  };
}
