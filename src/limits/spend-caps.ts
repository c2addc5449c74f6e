/**
 * Spending caps: what one sender, and a repository as a whole, may spend over any rolling 24 hours
 * and in a calendar month (UTC). Figures in, verdict out; the figures come from
 * src/store/spend.ts. Spend is the recorded cost of finished tasks plus the budgets of running ones
 * (what they may still spend), so tasks started together cannot overshoot a cap between them.
 */
import type { SpendingLimits } from '../config/types.ts';

export const SPEND_DAY_MS = 24 * 60 * 60 * 1000;

/**
 * At most one spend-cap reply per sender per this long, however many mails they send while capped
 * (as for rate limits: an auto-responder must not get one reply per mail).
 */
export const SPEND_NOTICE_INTERVAL_MS = 60 * 60 * 1000;

/** Dollar comparisons are of sums of floats: a cent's fraction of slack keeps an exact fit a fit. */
const EPSILON_USD = 1e-9;

export type SpendScope = 'sender' | 'repo';
export type SpendPeriod = 'day' | 'month';

/** A finished task's cost and when it finished. */
export interface SpendEntry {
  readonly at: number;
  readonly usd: number;
}

/** What one scope (a sender in a repository, or the repository) has spent. */
export interface ScopeSpend {
  /** Finished tasks of the last 24 hours, oldest first. */
  readonly dayFinished: readonly SpendEntry[];
  /** Finished tasks' cost since the start of this calendar month (UTC). */
  readonly monthFinishedUsd: number;
  /** Budgets of the running tasks. */
  readonly runningUsd: number;
}

export interface SpendFigures {
  readonly sender: ScopeSpend;
  readonly repo: ScopeSpend;
}

/** The cap a new task would break. */
export interface SpendCapHit {
  readonly scope: SpendScope;
  readonly period: SpendPeriod;
  /** Spend counted against the cap (finished tasks' cost plus running tasks' budgets). */
  readonly spentUsd: number;
  readonly capUsd: number;
  /** The budget the new task would be given (null: no per-task budget). */
  readonly taskBudgetUsd: number | null;
  /**
   * When the new task fits again (ms since the epoch), or null when time alone does not make it
   * fit: the task's budget by itself is above the cap, or running tasks hold the rest.
   */
  readonly resetsAt: number | null;
}

/** Start of the calendar month (UTC) that `now` is in, and of the next one. */
export function monthBounds(now: number): { start: number; next: number } {
  const d = new Date(now);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), next: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

export function daySpentUsd(s: ScopeSpend): number {
  return sum(s.dayFinished.map((e) => e.usd)) + s.runningUsd;
}

export function monthSpentUsd(s: ScopeSpend): number {
  return s.monthFinishedUsd + s.runningUsd;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** With a budget, the task must fit under the cap; without one, any room at all lets it run. */
function fits(spent: number, cap: number, budget: number | null): boolean {
  return budget === null ? spent < cap - EPSILON_USD : spent + budget <= cap + EPSILON_USD;
}

/** When enough of the day's finished spend has left the window for the task to fit, or null. */
function dayResetsAt(s: ScopeSpend, cap: number, budget: number | null): number | null {
  let spent = daySpentUsd(s);
  for (const e of s.dayFinished) {
    spent -= e.usd;
    if (fits(spent, cap, budget)) return e.at + SPEND_DAY_MS;
  }
  return null;
}

function check(scope: SpendScope, period: SpendPeriod, s: ScopeSpend, cap: number | null, budget: number | null, now: number): SpendCapHit | null {
  if (cap === null) return null;
  const spent = period === 'day' ? daySpentUsd(s) : monthSpentUsd(s);
  if (fits(spent, cap, budget)) return null;
  const tooBig = budget !== null && budget > cap + EPSILON_USD;
  const resetsAt = tooBig ? null : period === 'day' ? dayResetsAt(s, cap, budget) : monthBounds(now).next;
  return { scope, period, spentUsd: spent, capUsd: cap, taskBudgetUsd: budget, resetsAt };
}

/**
 * The cap a new task with budget `taskBudgetUsd` would break, or null when it may run. When several
 * are broken, the one that lifts last is named: waiting for an earlier one would only meet the next.
 */
export function findSpendCapHit(figures: SpendFigures, caps: SpendingLimits, taskBudgetUsd: number | null, now: number): SpendCapHit | null {
  const hits = [
    check('sender', 'day', figures.sender, caps.senderPerDayUsd, taskBudgetUsd, now),
    check('sender', 'month', figures.sender, caps.senderPerMonthUsd, taskBudgetUsd, now),
    check('repo', 'day', figures.repo, caps.repoPerDayUsd, taskBudgetUsd, now),
    check('repo', 'month', figures.repo, caps.repoPerMonthUsd, taskBudgetUsd, now),
  ].filter((h): h is SpendCapHit => h !== null);
  if (hits.length === 0) return null;
  const lifts = (h: SpendCapHit): number => h.resetsAt ?? Number.POSITIVE_INFINITY;
  return hits.reduce((a, b) => (lifts(b) > lifts(a) ? b : a));
}

/** Whether any sender or repository cap is set (no spend query is needed otherwise). */
export function hasSpendCaps(caps: SpendingLimits): boolean {
  return caps.senderPerDayUsd !== null || caps.senderPerMonthUsd !== null || caps.repoPerDayUsd !== null || caps.repoPerMonthUsd !== null;
}

/** `$1.23`; amounts under a dollar keep 4 decimals, since task costs are often fractions of a cent. */
export function formatUsd(usd: number): string {
  return Math.abs(usd) >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}
