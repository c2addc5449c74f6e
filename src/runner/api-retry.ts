/**
 * The daemon's own retries after a transient API failure (overloaded, rate limited, 5xx, API not
 * reachable). The container's Claude Code gives up at once (CLAUDE_CODE_MAX_RETRIES=0, set by the
 * sandbox), so the wait happens here, where the dashboard sees it, an operator's stop cuts it short
 * and the container holds no resources meanwhile; the next run resumes the same session, so no work
 * is lost. When the policy (retry-plan.ts) allows no further retry the last failure is returned, and
 * the outcome stage pauses the task.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RetryPolicy } from '../config/types.ts';
import type { AgentOutcome } from '../sandbox/execution-backend.ts';
import { retryDelaySeconds } from './retry-plan.ts';
import type { TaskContext } from './task-context.ts';

/** The prompt of a retry's run: the session holds the task; Claude is told why it starts again. */
export const RETRY_PROMPT =
  'Your previous attempt at this task was cut off by a temporary failure of the Anthropic API (not by anything you did). ' +
  'The conversation so far is above. Continue the task where you left off; do not start over.';

export interface RetrySummary {
  /** Retries made in this run of the task. */
  readonly count: number;
  /** Seconds waited before them, together. */
  readonly waitedSeconds: number;
}

/** The agent's outcome with the retries it took; a `failed` outcome with `transient` set means they ran out. */
export type RetriedOutcome = AgentOutcome & { readonly retries: RetrySummary };

/**
 * Runs `first`, then, while it failed for a transient reason and the policy allows, waits and runs
 * `resume` with the session to continue (the failed run's, else `fallbackSession`). A stop during a
 * wait ends as `cancelled` (the outcome stage tells an operator's stop from a shutdown).
 */
export async function runWithRetries(
  ctx: Pick<TaskContext, 'signal' | 'events' | 'log' | 'onTaskChanged'>,
  policy: RetryPolicy,
  fallbackSession: string | null,
  first: () => Promise<AgentOutcome>,
  resume: (sessionId: string | null) => Promise<AgentOutcome>,
): Promise<RetriedOutcome> {
  let outcome = await first();
  let count = 0;
  let waitedSeconds = 0;
  while (outcome.kind === 'failed' && outcome.transient) {
    const delaySeconds = retryDelaySeconds(policy, count, waitedSeconds);
    if (delaySeconds === null) break;
    const { kind: cause, detail } = outcome.transient;
    ctx.events.apiRetry({ attempt: count + 1, cause, detail, delaySeconds });
    ctx.onTaskChanged();
    ctx.log.warn({ attempt: count + 1, cause, detail, delaySeconds }, 'transient API failure; resuming the session after a wait');
    const session = outcome.sessionId ?? fallbackSession;
    if (!(await waitOrStop(delaySeconds, ctx.signal))) return { kind: 'cancelled', sessionId: session, retries: { count, waitedSeconds } };
    count++;
    waitedSeconds += delaySeconds;
    fallbackSession = session;
    outcome = await resume(session);
  }
  return { ...outcome, retries: { count, waitedSeconds } };
}

/** False when the signal fired (before or during the wait). */
async function waitOrStop(seconds: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await sleep(seconds * 1000, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
