/**
 * Stage 3½, trigger (scheduled tasks only): a schedule's `trigger_command` runs first, in the
 * repository's sandbox (its image, the conversation's fresh clone as /workspace, the task's
 * network, its secrets), within `trigger_timeout`. Exit 0: the agent runs, its prompt the
 * command's output (at most `output_limit` bytes, a cut marked). Any other exit, or the timeout:
 * the task ends without the agent and without mail, the reason on the task row (`cancelled` for an
 * exit other than 0, which is the command saying "nothing to do"; `timeout` for the timeout).
 * A queued run whose schedule was removed by a reload ends `cancelled` the same way.
 */
import type { ScheduleConfig } from '../../config/types.ts';
import type { CommandOutcome } from '../../sandbox/execution-backend.ts';
import type { TaskContext } from '../task-context.ts';
import { CONTAINER_GITCONFIG, containerSettings, openTaskNetwork } from './agent.ts';
import type { ConversationState } from './conversation.ts';
import type { RepoInputs } from './repo-inputs.ts';

/** Run the agent with this body (null: the mail's own), or stop here: the task is finished already. */
export type TriggerDecision = { readonly run: true; readonly bodyText: string | null } | { readonly run: false; readonly status: 'cancelled' | 'timeout' };

export async function triggerStage(ctx: TaskContext, inputs: RepoInputs, conversation: ConversationState, image: string): Promise<TriggerDecision> {
  if (ctx.schedule === null) return { run: true, bodyText: null };
  const schedule = ctx.repo.schedules[ctx.schedule];
  if (!schedule) {
    ctx.finishQuietly({ status: 'cancelled', error: `schedule ${ctx.schedule} is no longer in repos.${ctx.repo.repoId}.schedules; its queued run did not run` });
    return { run: false, status: 'cancelled' };
  }
  if (schedule.triggerCommand === null) return { run: true, bodyText: null };
  const outcome = await runTrigger(ctx, inputs, conversation, image, schedule.triggerCommand, schedule);
  if (outcome.kind === 'cancelled') {
    // Stopped by an operator or a shutdown while the command ran; the agent never started.
    ctx.finishQuietly({ status: 'cancelled', error: 'stopped while its trigger_command ran' });
    return { run: false, status: 'cancelled' };
  }
  if (outcome.kind === 'timeout') {
    ctx.finishQuietly({ status: 'timeout', error: `trigger_command ran longer than trigger_timeout (${schedule.triggerTimeoutSeconds} s); the agent did not run${stderrNote(outcome.stderrTail)}` });
    return { run: false, status: 'timeout' };
  }
  if (outcome.exitCode !== 0) {
    ctx.log.info({ schedule: schedule.name, exitCode: outcome.exitCode }, 'trigger_command exited non-zero; the scheduled run ends without the agent');
    ctx.finishQuietly({ status: 'cancelled', error: `trigger_command exited ${outcome.exitCode}: nothing to do, the agent did not run${stderrNote(outcome.stderrTail)}` });
    return { run: false, status: 'cancelled' };
  }
  return { run: true, bodyText: triggerPrompt(schedule, outcome.output, outcome.truncatedBytes) };
}

async function runTrigger(
  ctx: TaskContext,
  inputs: RepoInputs,
  conversation: ConversationState,
  image: string,
  command: string,
  schedule: ScheduleConfig,
): Promise<CommandOutcome> {
  const net = await openTaskNetwork(ctx, inputs);
  try {
    return await ctx.backend.runCommand({
      taskId: ctx.task.id,
      labels: { repo: ctx.repo.repoId, conversation: ctx.conversationId },
      image,
      workspace: conversation.paths.workspace,
      command,
      env: { ...inputs.containerEnv, GIT_CONFIG_GLOBAL: CONTAINER_GITCONFIG },
      extraMounts: [{ source: conversation.paths.gitconfig, target: CONTAINER_GITCONFIG }],
      network: net,
      timeoutMs: schedule.triggerTimeoutSeconds * 1000,
      ...containerSettings(ctx),
      outputLimitBytes: schedule.outputLimitBytes,
      signal: ctx.signal,
    });
  } finally {
    await net.close();
  }
}

/** The agent's prompt body: what the command printed, with a cut marked. */
export function triggerPrompt(schedule: ScheduleConfig, output: string, truncatedBytes: number): string {
  const lines = [
    `Scheduled task "${schedule.name}": its trigger command \`${schedule.triggerCommand}\` ran in the repository and exited 0. Its output:`,
    '',
    output.trimEnd() === '' ? '(no output)' : output.trimEnd(),
  ];
  if (truncatedBytes > 0) lines.push('', `[output cut: ${truncatedBytes} more bytes beyond output_limit (${schedule.outputLimitBytes} bytes) were dropped]`);
  return lines.join('\n');
}

function stderrNote(tail: string): string {
  const t = tail.trim();
  return t === '' ? '' : `; its last error output: ${t.slice(-500)}`;
}
