/**
 * One task's budget (Claude Code's `--max-budget-usd`): the server's `budget.task_usd` for the
 * repository, which the repository's own `.airut/airut.yaml` (`max_budget_usd`) may lower but never
 * raise — whoever can push to the repository must not be able to spend more than the operator set.
 */

export interface TaskBudget {
  /** The budget the run is given; null for none. */
  readonly budgetUsd: number | null;
  /** The repository's value when it was above the server's and so ignored (to be logged), else null. */
  readonly ignoredRepoUsd: number | null;
}

export function effectiveTaskBudget(serverUsd: number | null, repoUsd: number | null): TaskBudget {
  if (repoUsd === null) return { budgetUsd: serverUsd, ignoredRepoUsd: null };
  if (serverUsd === null || repoUsd <= serverUsd) return { budgetUsd: repoUsd, ignoredRepoUsd: null };
  return { budgetUsd: serverUsd, ignoredRepoUsd: repoUsd };
}
