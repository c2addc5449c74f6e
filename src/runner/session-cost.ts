/**
 * A session's cost across runs. Claude Code keeps a session's running total in its transcript and
 * carries it over on `--resume`: `total_cost_usd` is the session's total, not the run's (measured
 * with CLI 2.1.330: a follow-up that cost $0.0004 reported 0.0012 after a run that had cost
 * 0.0008). `--max-budget-usd` on the other hand is compared with what the process itself spent
 * (a resumed run given $0.0021 on top of a carried $0.0012 ran to $0.0024 of its own), so every
 * run, a follow-up's included, gets a fresh budget as it is. A task's own cost is its reported
 * total minus what the session carried, kept in the conversation's context.json (`sessionCost`).
 */
import type { ConversationContext } from '../conversation/index.ts';
import type { AgentOutcome } from '../sandbox/execution-backend.ts';
import type { TaskContext } from './task-context.ts';

/** What the session `resumeSessionId` carries into its next run; 0 for a new session or an unknown total. */
export function carriedCost(context: Pick<ConversationContext, 'sessionCost'>, resumeSessionId: string | null): number {
  const sc = context.sessionCost;
  return resumeSessionId !== null && sc?.sessionId === resumeSessionId ? sc.totalUsd : 0;
}

/**
 * The run's own cost from the session total it reported. A total below what was carried means the
 * CLI started the count afresh (its transcript was lost), so the total is all this run's.
 */
export function ownCost(reportedUsd: number, carriedUsd: number): number {
  return reportedUsd >= carriedUsd ? roundUsd(reportedUsd - carriedUsd) : reportedUsd;
}

/** Sums of float dollars: 0.0012 - 0.0008 must give 0.0004, not 0.00039999999999999996. */
function roundUsd(usd: number): number {
  return Math.round(usd * 1e10) / 1e10;
}

/**
 * The outcome with its own cost instead of the session total, after saving that total for the next
 * run. `carriedUsd` applies only when the run resumed the session it reports (not after a fresh start).
 */
export async function accountSessionCost<O extends AgentOutcome>(ctx: TaskContext, outcome: O, resumedSessionId: string | null, carriedUsd: number): Promise<O> {
  if (outcome.kind !== 'success' && outcome.kind !== 'failed' && outcome.kind !== 'budget_exceeded') return outcome;
  const sessionId = outcome.sessionId;
  if (sessionId === null) return outcome;
  const carried = sessionId === resumedSessionId ? carriedUsd : 0;
  try {
    await ctx.conversations.updateContext(ctx.conversationId, (c) => ({ ...c, sessionCost: { sessionId, totalUsd: outcome.costUsd } }));
  } catch (err) {
    // The next run then counts from 0: its budget is smaller and its cost higher, never the reverse.
    ctx.log.warn({ err: (err as Error).message }, "could not save the session's cost total to context.json");
  }
  return { ...outcome, costUsd: ownCost(outcome.costUsd, carried) };
}
