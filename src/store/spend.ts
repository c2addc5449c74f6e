/**
 * The spend queries: what tasks cost, per repository and per sender, for the spending caps
 * (src/limits/spend-caps.ts), the dashboard, /metrics and the reply footer. Spend is the recorded
 * `cost_usd` of finished tasks (by `finished_at`) plus, for the caps, the `budget_usd` of running
 * ones. The finished-task queries use the partial indexes of migration 11, whose WHERE
 * (`cost_usd IS NOT NULL`) they repeat.
 */
import { monthBounds, SPEND_DAY_MS, type ScopeSpend, type SpendEntry, type SpendFigures } from '../limits/spend-caps.ts';
import type { Db } from './database.ts';

/** WHERE of the per-repo sum: params repo, since. Exported for the query-plan test. */
export const REPO_SPEND_WHERE = `repo_id = ? AND finished_at >= ? AND cost_usd IS NOT NULL`;
/** WHERE of the per-sender sum: params repo, sender, since. */
export const SENDER_SPEND_WHERE = `repo_id = ? AND sender = ? AND finished_at >= ? AND cost_usd IS NOT NULL`;

function scopeSpend(db: Db, repoId: string, sender: string | null, now: number, runningFallbackUsd: number): ScopeSpend {
  const where = sender === null ? REPO_SPEND_WHERE : SENDER_SPEND_WHERE;
  const key = sender === null ? [repoId] : [repoId, sender];
  const dayFinished = db
    .prepare(`SELECT finished_at AS at, cost_usd AS usd FROM tasks WHERE ${where} ORDER BY finished_at`)
    .all(...key, now - SPEND_DAY_MS + 1) as SpendEntry[];
  const month = db.prepare(`SELECT total(cost_usd) AS usd FROM tasks WHERE ${where}`).get(...key, monthBounds(now).start) as { usd: number };
  // A running task whose budget is not recorded yet (between its claim and its first stage) counts
  // with the budget it will get.
  const running = db
    .prepare(
      `SELECT total(COALESCE(budget_usd, ?)) AS usd FROM tasks
       WHERE status = 'running' AND repo_id = ?${sender === null ? '' : ' AND sender = ?'}`,
    )
    .get(runningFallbackUsd, ...key) as { usd: number };
  return { dayFinished, monthFinishedUsd: month.usd, runningUsd: running.usd };
}

/**
 * What `sender` and the repository have spent, for the caps. `runningFallbackUsd` is counted for a
 * running task with no recorded budget (the repository's task budget, or 0 when it has none).
 */
export function spendFigures(db: Db, repoId: string, sender: string, now: number, runningFallbackUsd: number): SpendFigures {
  return {
    sender: scopeSpend(db, repoId, sender, now, runningFallbackUsd),
    repo: scopeSpend(db, repoId, null, now, runningFallbackUsd),
  };
}

/** Finished tasks' cost over the last 24 hours and in this calendar month (UTC). */
export interface SpendSummary {
  readonly dayUsd: number;
  readonly monthUsd: number;
}

function finishedSince(db: Db, where: string, key: readonly string[], since: number): number {
  return (db.prepare(`SELECT total(cost_usd) AS usd FROM tasks WHERE ${where}`).get(...key, since) as { usd: number }).usd;
}

/** What one sender (or, with sender null, the whole repository) has spent on finished tasks. */
export function finishedSpend(db: Db, repoId: string, sender: string | null, now: number): SpendSummary {
  const where = sender === null ? REPO_SPEND_WHERE : SENDER_SPEND_WHERE;
  const key = sender === null ? [repoId] : [repoId, sender];
  return { dayUsd: finishedSince(db, where, key, now - SPEND_DAY_MS + 1), monthUsd: finishedSince(db, where, key, monthBounds(now).start) };
}

export interface SenderSpend extends SpendSummary {
  readonly sender: string;
}

/** Per sender of a repository, those who spent anything this month or in the last 24 hours, biggest first. */
export function spendBySender(db: Db, repoId: string, now: number): SenderSpend[] {
  const since = Math.min(now - SPEND_DAY_MS + 1, monthBounds(now).start);
  return db
    .prepare(
      `SELECT sender,
              total(CASE WHEN finished_at >= ? THEN cost_usd END) AS dayUsd,
              total(CASE WHEN finished_at >= ? THEN cost_usd END) AS monthUsd
       FROM tasks WHERE ${REPO_SPEND_WHERE} AND sender IS NOT NULL
       GROUP BY sender ORDER BY monthUsd DESC, sender`,
    )
    .all(now - SPEND_DAY_MS + 1, monthBounds(now).start, repoId, since) as SenderSpend[];
}

export interface SpendTotal {
  readonly repoId: string;
  readonly sender: string;
  readonly usd: number;
}

/**
 * All-time cost of finished tasks per repository and sender, computed from the rows (/metrics reads
 * the same figure from metric_spend). No sender and an empty one are one label value, so one group.
 */
export function spendTotals(db: Db): SpendTotal[] {
  return db
    .prepare(
      `SELECT repo_id AS repoId, COALESCE(sender, '') AS sender, total(cost_usd) AS usd
       FROM tasks WHERE cost_usd IS NOT NULL GROUP BY repo_id, COALESCE(sender, '') ORDER BY repo_id, COALESCE(sender, '')`,
    )
    .all() as SpendTotal[];
}

/** Records the budget a task's run was given (`--max-budget-usd`), null for none. */
export function recordTaskBudget(db: Db, taskId: number, budgetUsd: number | null): void {
  db.prepare(`UPDATE tasks SET budget_usd = ? WHERE id = ?`).run(budgetUsd, taskId);
}
