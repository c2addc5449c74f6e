/**
 * The words for a mail refused by a spending cap: the dashboard/log line and the sender's reply,
 * with the figures (spent, this task's budget, the cap) and when the cap lets a task through again.
 */
import { formatRetryTime, type LimitExplanation } from './explain.ts';
import { formatUsd, type SpendCapHit } from './spend-caps.ts';

/** The server configuration key of each cap (under `budget:`, or `repos.<id>.budget:`). */
export function spendCapSetting(hit: Pick<SpendCapHit, 'scope' | 'period'>): string {
  return `budget.${hit.scope}_per_${hit.period}_usd`;
}

function whose(hit: SpendCapHit): string {
  const period = hit.period === 'day' ? 'in the last 24 hours' : 'this calendar month (UTC)';
  const spent = formatUsd(hit.spentUsd);
  const cap = formatUsd(hit.capUsd);
  return hit.scope === 'sender'
    ? `Your tasks in this repository have spent ${spent} ${period}; one sender may spend at most ${cap}.`
    : `This repository's tasks, from all senders together, have spent ${spent} ${period}; it may spend at most ${cap}.`;
}

function when(hit: SpendCapHit): string {
  if (hit.resetsAt !== null) {
    return `Send it again after ${formatRetryTime(hit.resetsAt)}, when enough of that spend ${hit.period === 'day' ? 'is more than 24 hours old' : 'belongs to last month'}. Mail sent before then is set aside the same way, without another reply like this one for an hour.`;
  }
  if (hit.taskBudgetUsd !== null && hit.taskBudgetUsd > hit.capUsd) {
    return `A task here is given a budget of ${formatUsd(hit.taskBudgetUsd)}, more than the cap itself, so no task can start until the operator changes one of them.`;
  }
  return 'Tasks that are running now hold the rest of it (their budgets count until they finish); send it again when they have finished.';
}

export function explainSpendCap(hit: SpendCapHit): LimitExplanation {
  const setting = spendCapSetting(hit);
  const budget = hit.taskBudgetUsd === null ? '' : ` A new task is given a budget of ${formatUsd(hit.taskBudgetUsd)}, which would not fit.`;
  const reset = hit.resetsAt === null ? 'no reset by time alone' : `fits after ${formatRetryTime(hit.resetsAt)}`;
  return {
    detail: `Spending cap: ${formatUsd(hit.spentUsd)} spent ${hit.period === 'day' ? 'in 24 h' : 'this month'} ${hit.scope === 'sender' ? 'by this sender' : 'in this repository'}; the cap is ${formatUsd(hit.capUsd)} (${setting}); ${reset}.`,
    message: [
      `Your mail was not processed: it would go over a spending cap. ${whose(hit)}${budget}`,
      '',
      when(hit),
      '',
      `If this cap is too low for your work, ask the operator to raise \`${setting}\`.`,
    ].join('\n'),
  };
}
