/**
 * Stage 5, outcome and reply: the agent's outcome becomes the reply (with the outbox/ files that fit
 * the limits) and the task's final state, recorded together; a shutdown's stop is recorded as
 * interrupted, to run again after the restart; transient API failures that outlasted the retries
 * pause the task.
 */
import { notAttachedMarkdown } from '../../conversation/index.ts';
import type { AgentOutcome } from '../../sandbox/execution-backend.ts';
import { formatUsd } from '../../limits/spend-caps.ts';
import { accountSessionCost } from '../session-cost.ts';
import type { SenderSpendFooter } from '../../reply/render.ts';
import type { RetriedOutcome, RetrySummary } from '../api-retry.ts';
import { openOutboxAttachments, type OutboxAttachments } from '../outbox-attachments.ts';
import { pushedMarkdown } from '../pushed-branches.ts';
import type { RunTaskResult } from '../../protocol/runner.ts';
import type { TaskContext } from '../task-context.ts';
import type { ConversationState } from './conversation.ts';
import type { RepoInputs } from './repo-inputs.ts';

export async function outcomeStage(
  ctx: TaskContext,
  inputs: RepoInputs,
  conversation: ConversationState,
  reported: AgentOutcome | RetriedOutcome,
): Promise<RunTaskResult> {
  // Costs from here on are the task's own, not the session's running total.
  const outcome = await accountSessionCost(ctx, reported, conversation.resumeSessionId, conversation.carriedCostUsd);
  // Capped and opened for streaming; cleared once the task ends, whatever the outcome (see runTask).
  const outbox = await openOutboxAttachments(ctx.conversations, ctx.conversationId, ctx.settings.taskOutput);
  try {
    // Kept before the reply is queued, which records the task's end: whoever sees the task finished
    // (a script polling the task API) finds its files listed. An interrupted run sends no reply: its
    // outbox goes with the reply of the run after the restart.
    const interrupted = outcome.kind === 'cancelled' && ctx.cancelReason() === 'shutdown';
    if (!interrupted) await ctx.files.keepSentFiles(ctx.task.id, outbox.files);
    return await replyToOutcome(ctx, {
      outcome,
      model: conversation.model,
      outbox,
      timeoutSeconds: inputs.timeoutSeconds,
      budgetUsd: inputs.budgetUsd,
    });
  } finally {
    await outbox.close();
  }
}

interface Finished {
  readonly outcome: AgentOutcome | RetriedOutcome;
  readonly model: string;
  /** The outbox files that go with the reply (open until it is written) and those left out. */
  readonly outbox: OutboxAttachments;
  readonly timeoutSeconds: number;
  /** The budget the run was given (null: none). */
  readonly budgetUsd: number | null;
}

async function replyToOutcome(ctx: TaskContext, r: Finished): Promise<RunTaskResult> {
  const { outcome, model, timeoutSeconds } = r;
  const taskId = ctx.task.id;
  const attachments = r.outbox.attachments;
  const base = { model, sessionId: outcome.sessionId };
  // Files left out, and the branches the task pushed (whatever became of the run), are named in every reply.
  const notes = [notAttachedMarkdown(r.outbox.notAttached), pushedMarkdown(ctx.store.taskPushes())].filter(Boolean);
  const withSkipped = (markdown: string): string => [markdown, ...notes].join('\n\n');
  if (outcome.kind === 'cancelled') {
    if (ctx.cancelReason() === 'shutdown') return ctx.interrupt('stopped by a shutdown; it runs again after the restart');
    await ctx.reply(
      { kind: 'notice', markdown: withSkipped('This task was **stopped** by an operator before it finished. Reply to this mail to continue the conversation.') },
      attachments,
      { ...base, status: 'cancelled', error: 'stopped by an operator' },
    );
    return { taskId, status: 'cancelled' };
  }
  if (outcome.kind === 'timeout') {
    await ctx.reply({ kind: 'notice', markdown: withSkipped(timeoutMarkdown(timeoutSeconds)) }, attachments, {
      ...base,
      status: 'timeout',
      error: `timed out after ${timeoutSeconds} s`,
    });
    return { taskId, status: 'timeout' };
  }
  if (outcome.kind === 'failed' && outcome.transient) {
    // The retries ran out (api-retry.ts): paused, not failed; any reply in the thread resumes it.
    const retries = 'retries' in outcome ? outcome.retries : { count: 0, waitedSeconds: 0 };
    await ctx.reply({ kind: 'notice', markdown: withSkipped(pausedMarkdown(outcome.transient.detail, retries)) }, attachments, {
      ...base,
      status: 'paused',
      error: `paused after ${retries.count} automatic retries: ${outcome.transient.detail}`,
      costUsd: outcome.costUsd,
    });
    return { taskId, status: 'paused' };
  }
  if (outcome.kind === 'failed') {
    await ctx.reply({ kind: 'error', message: withSkipped(`Claude Code did not finish the task: ${outcome.error}`) }, attachments, {
      ...base,
      status: 'failed',
      error: outcome.error,
      costUsd: outcome.costUsd,
    });
    return { taskId, status: 'failed' };
  }
  if (outcome.kind === 'budget_exceeded') {
    const spent = formatUsd(outcome.costUsd);
    await ctx.reply({ kind: 'notice', markdown: withSkipped(budgetExceededMarkdown(outcome.costUsd, r.budgetUsd)) }, attachments, {
      ...base,
      status: 'budget_exceeded',
      costUsd: outcome.costUsd,
      turns: outcome.turns,
      error: `stopped by its budget: spent ${spent}${r.budgetUsd === null ? '' : ` of ${formatUsd(r.budgetUsd)}`}`,
    });
    return { taskId, status: 'budget_exceeded' };
  }
  const resumedNote = ctx.isResume ? '_This task was resumed after a restart of the service._\n\n' : '';
  await ctx.reply(
    {
      kind: 'reply',
      markdown: withSkipped(resumedNote + (outcome.result.trim() || '_(Claude Code finished without a text answer.)_')),
      usage: { costUsd: outcome.costUsd, turns: outcome.turns, durationMs: outcome.durationMs, model, senderSpend: senderSpendFooter(ctx, outcome.costUsd) },
    },
    attachments,
    { ...base, status: 'completed', costUsd: outcome.costUsd, turns: outcome.turns, error: null },
  );
  return { taskId, status: 'completed' };
}

/**
 * Claude Code checks the budget between requests, so a run can end a little over it. "continue" is
 * an ordinary follow-up: a new task of the conversation that resumes the session with a budget of
 * its own.
 */
function budgetExceededMarkdown(costUsd: number, budgetUsd: number | null): string {
  const against = budgetUsd === null ? `${formatUsd(costUsd)}` : `${formatUsd(costUsd)} of its ${formatUsd(budgetUsd)} budget`;
  const size = budgetUsd === null ? '' : ` (${formatUsd(budgetUsd)})`;
  return (
    `This task was **stopped by its budget**: it spent ${against}. The work done so far is kept. ` +
    `Reply **continue** to grant it one more budget of the same size${size} and carry on where it stopped, or reply with new instructions.`
  );
}

/**
 * The sender's spend in the repository with this task's cost (not recorded yet: it is recorded with
 * this reply), in every reply, against the caps where they are set so the sender sees how close
 * they are.
 */
function senderSpendFooter(ctx: TaskContext, costUsd: number): SenderSpendFooter | null {
  const { senderPerDayUsd, senderPerMonthUsd } = ctx.repo.budget;
  const sender = ctx.task.sender;
  if (sender === null) return null;
  const spent = ctx.store.senderSpend(sender, ctx.now());
  return { dayUsd: spent.dayUsd + costUsd, monthUsd: spent.monthUsd + costUsd, dayCapUsd: senderPerDayUsd, monthCapUsd: senderPerMonthUsd };
}

function pausedMarkdown(lastError: string, retries: RetrySummary): string {
  const tried =
    retries.count === 0
      ? 'automatic retries are turned off for this repository'
      : `it still failed after ${retries.count} automatic ${retries.count === 1 ? 'retry' : 'retries'} over ${waitText(retries.waitedSeconds)}`;
  return (
    `This task is **paused**: the Anthropic API failed for a temporary reason (last error: ${lastError}) and ${tried}. ` +
    'The work done so far is kept: reply to this mail (for example with **continue**) to resume it where it stopped.'
  );
}

function waitText(seconds: number): string {
  if (seconds < 120) return `${seconds} ${seconds === 1 ? 'second' : 'seconds'}`;
  return `${Math.round(seconds / 60)} minutes`;
}

function timeoutMarkdown(timeoutSeconds: number): string {
  const minutes = Math.round(timeoutSeconds / 60);
  return (
    `The task hit its time limit of ${timeoutSeconds >= 120 ? `${minutes} minutes` : `${timeoutSeconds} seconds`} and was stopped. ` +
    'The work done so far is kept: reply to this mail to continue, or raise `timeout` in `.airut/airut.yaml`.'
  );
}
