/**
 * What is left of a task's budget for its next run. Claude Code's `--max-budget-usd` counts what
 * one process spends, so a run that resumes the session after a transient API failure, or the fresh
 * session that replaces one too long for the context, would get the whole budget again and a task
 * could spend it once per run. Each run's own spend (its session total minus the total the session
 * had before it, see session-cost.ts) is taken off what the next run is given.
 */
import type { AgentOutcome } from '../sandbox/execution-backend.ts';
import { ownCost } from './session-cost.ts';

/** Below this a run could not make one request; the task is over its budget. */
const SMALLEST_RUN_USD = 0.000001;

export class RunBudget {
  private spentUsd = 0;
  /** Each session's last reported total, starting with what the resumed session carried in. */
  private readonly totals = new Map<string, number>();
  private lastTotal: { sessionId: string | null; usd: number } = { sessionId: null, usd: 0 };

  constructor(
    private readonly budgetUsd: number | null,
    resumedSessionId: string | null,
    carriedUsd: number,
  ) {
    if (resumedSessionId !== null) {
      this.totals.set(resumedSessionId, carriedUsd);
      this.lastTotal = { sessionId: resumedSessionId, usd: carriedUsd };
    }
  }

  /** Counts a finished run's spend; returns the outcome unchanged. */
  note<O extends AgentOutcome>(outcome: O): O {
    if ((outcome.kind === 'success' || outcome.kind === 'failed' || outcome.kind === 'budget_exceeded') && outcome.sessionId !== null) {
      const before = this.totals.get(outcome.sessionId) ?? 0;
      this.spentUsd += ownCost(outcome.costUsd, before);
      this.totals.set(outcome.sessionId, outcome.costUsd);
      this.lastTotal = { sessionId: outcome.sessionId, usd: outcome.costUsd };
    }
    return outcome;
  }

  /** The budget of the next run; null without a budget. */
  left(): number | null {
    if (this.budgetUsd === null) return null;
    return Math.round((this.budgetUsd - this.spentUsd) * 1e6) / 1e6;
  }

  /** True when a next run would start over the budget: the task ends as budget_exceeded instead. */
  exhausted(): boolean {
    const left = this.left();
    return left !== null && left < SMALLEST_RUN_USD;
  }

  /** The outcome of a run not made because nothing is left (its cost is the session total, as the CLI reports it). */
  exceeded(sessionId: string | null): AgentOutcome {
    const usd = sessionId !== null && sessionId === this.lastTotal.sessionId ? this.lastTotal.usd : 0;
    return { kind: 'budget_exceeded', sessionId, costUsd: usd, turns: 0, durationMs: 0 };
  }
}
