/**
 * One run of Claude Code as a pod: the conversation's directories are packed into the state bundle
 * the pod fetches from the gateway, the pod runs the agent with the prompt on stdin (from the
 * bundle, so neither prompt nor arguments are in the pod spec), its log is read as the same
 * stream-json as a container's stdout, and the state it returns replaces the conversation's
 * directories, as if they had been mounted. A pod that returns no state (killed before it could)
 * leaves the directories as they were before the task: its changes are lost, the conversation is not.
 *
 * Live follow-ups cannot be written into a pod's stdin (that would need attach, which the stand-in
 * and many clusters' policies do not allow), so `onInput` is never called: later mails of the
 * conversation become the next task, as they did before live follow-ups.
 */
import fs from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { AirutError } from '../../errors.ts';
import type { Logger } from '../../log/logger.ts';
import { userMessageLine } from '../agent-input.ts';
import { followAgentOutput } from '../agent-output.ts';
import { tailLines } from '../container-runtime.ts';
import type { AgentEventHandler, AgentOutcome, AgentRunRequest } from '../execution-backend.ts';
import { classifyOutcome } from '../outcome.ts';
import { selectReplyText } from '../reply-text.ts';
import type { KubeNetworkParts } from './kube-network.ts';
import { gatewayTaskPaths, writeGatewayToken } from './pod-gateway.ts';
import { runTaskPod, type PodDeps } from './task-pod-run.ts';
import { packStateIn, unpackStateOut, type StateDirs } from './state-bundle.ts';

const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;
/** pod-entry.sh's exit code when it could not return the state. */
const STATE_UPLOAD_FAILED = 97;


/** Claude Code's arguments after the fixed ones pod-entry.sh adds; validated as run-agent.ts does. */
export function claudeArgs(request: Pick<AgentRunRequest, 'model' | 'effort' | 'maxBudgetUsd' | 'resumeSessionId'>): string[] {
  const invalid = (what: string): AirutError => new AirutError('SANDBOX_SPEC_INVALID', `invalid agent run: ${what}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._:@[\]-]*$/.test(request.model)) throw invalid(`model "${request.model}"`);
  const args = ['--model', request.model];
  if (request.effort) {
    if (!['low', 'medium', 'high', 'max'].includes(request.effort)) throw invalid(`effort "${request.effort}"`);
    args.push('--effort', request.effort);
  }
  if (request.maxBudgetUsd !== undefined && request.maxBudgetUsd !== null) {
    if (!Number.isFinite(request.maxBudgetUsd) || request.maxBudgetUsd <= 0) throw invalid(`budget ${request.maxBudgetUsd}`);
    args.push('--max-budget-usd', String(request.maxBudgetUsd));
  }
  if (request.resumeSessionId !== null) {
    if (!/^[A-Za-z0-9-]+$/.test(request.resumeSessionId)) throw invalid('session id');
    args.push('--resume', request.resumeSessionId);
  }
  args.push('--dangerously-skip-permissions');
  return args;
}

export function stateDirsOf(mounts: AgentRunRequest['mounts']): StateDirs {
  return { workspace: mounts.workspace, claudeState: mounts.claudeState, inbox: mounts.inbox, outbox: mounts.outbox, storage: mounts.storage };
}

export async function runAgentPod(
  deps: PodDeps,
  request: AgentRunRequest,
  net: KubeNetworkParts | null,
  signal: AbortSignal,
  onEvent: AgentEventHandler,
): Promise<AgentOutcome> {
  const log = deps.log.child({ task: request.taskId, ...request.labels });
  if (signal.aborted) return { kind: 'cancelled', sessionId: null };
  const args = claudeArgs(request);
  const dirs = stateDirsOf(request.mounts);
  await Promise.all(Object.values(dirs).map((d) => fs.mkdir(d, { recursive: true })));
  const paths = gatewayTaskPaths(deps.stateDir, request.taskId);
  const token = net?.token ?? (await writeGatewayToken(deps.stateDir, request.taskId));
  const startedAt = Date.now();
  try {
    await packStateIn(dirs, { inputJsonl: userMessageLine(request.prompt), args }, paths.stateIn);
    log.info({ image: request.image, model: request.model, resume: request.resumeSessionId, envNames: Object.keys(request.env) }, 'agent pod starting');
    let followed: ReturnType<typeof followAgentOutput> | null = null;
    const run = await runTaskPod(deps, 'agent', request, {
      net,
      token,
      signal,
      log,
      onLog: (stream) => {
        followed = followAgentOutput({ stdout: stream, stderr: emptyStream() }, request.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, onEvent, log);
      },
    });
    const output = followed ? await settle(followed) : null;
    const returned = await takeReturnedState(deps, paths.stateOut, dirs, log);
    if (run.failure !== null) {
      return { kind: 'failed', error: run.failure, sessionId: output?.sessionId ?? null, exitCode: null, costUsd: 0, promptTooLong: false, transient: null };
    }
    // A refused state means the run's changes (workspace, session) are lost: whatever the log says,
    // the task did not do its work on the conversation, and a success would announce work that is gone.
    // The session is the one the host still has (the one this run resumed), not the pod's new one.
    if (returned !== null && !run.cancelled && !run.timedOut) {
      return { kind: 'failed', error: returned, sessionId: request.resumeSessionId, exitCode: run.exitCode, costUsd: output?.result?.costUsd ?? 0, promptTooLong: false, transient: null };
    }
    let stderrTail = tailLines(output?.stderrTail ?? '', 40);
    if (returned !== null) stderrTail = `${stderrTail}\n${returned}`.trim();
    else if (run.exitCode === STATE_UPLOAD_FAILED) stderrTail = `${stderrTail}\nthe pod could not return the conversation state to the daemon`.trim();
    const outcome = classifyOutcome({
      exitCode: run.exitCode,
      result: output?.result ?? null,
      sessionId: output?.sessionId ?? null,
      stderrTail,
      lastAssistantText: output?.lastAssistantText ?? '',
      replyText: output ? selectReplyText(output) : undefined,
      timedOut: run.timedOut,
      cancelled: run.cancelled,
    });
    log.info({ outcome: outcome.kind, exitCode: run.exitCode, sessionId: outcome.sessionId, ms: Date.now() - startedAt }, 'agent pod finished');
    return outcome;
  } finally {
    await Promise.all([paths.stateIn, paths.stateOut].map((f) => fs.rm(f, { force: true })));
  }
}

/**
 * Unpacks the state the pod returned into the conversation's directories. Returns null when it was
 * taken, or a sentence for the failure message when it was refused (the directories stay as they were).
 */
export async function takeReturnedState(deps: PodDeps, stateOut: string, dirs: StateDirs, log: Logger): Promise<string | null> {
  const present = await fs.stat(stateOut).then(() => true, () => false);
  if (!present) {
    log.warn('the pod returned no conversation state; the directories stay as they were before the task');
    return null;
  }
  try {
    const taken = await unpackStateOut(stateOut, dirs, {
      maxFileBytes: deps.settings.maxStateBytes,
      maxTotalBytes: deps.settings.maxStateBytes,
      maxEntries: 1_000_000,
    });
    log.info(taken, 'conversation state returned by the pod');
    return null;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'the conversation state the pod returned was refused');
    return `the conversation state the pod returned was refused: ${(err as Error).message}`;
  }
}

async function settle(followed: { readonly output: Parameters<typeof selectReplyText>[0] & ReturnType<typeof followAgentOutput>['output']; readonly done: Promise<void> }) {
  await followed.done;
  return followed.output;
}

function emptyStream(): PassThrough {
  const s = new PassThrough();
  s.end();
  return s;
}

export type { PodDeps } from './task-pod-run.ts';
