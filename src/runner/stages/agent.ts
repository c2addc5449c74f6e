/**
 * Stage 4, agent: Claude Code runs once in the task's network (sandboxed or not) through the
 * execution backend, its events stored as they come; a session that no longer fits the context is
 * retried once in a fresh session with a summary; a transient API failure is retried after a wait,
 * resuming the session (api-retry.ts). The session id is saved as soon as Claude reports
 * it, so a re-run after a crash resumes it.
 */
import path from 'node:path';
import type { AgentEvent, AgentOutcome, RepoMount, TaskNetwork } from '../../sandbox/execution-backend.ts';
import { cloneCompanions } from '../companions.ts';
import { limitsFromConfig, type ResourceLimits } from '../../sandbox/container-args.ts';
import type { KubeRunSettings } from '../../sandbox/kubernetes/settings.ts';
import { RETRY_PROMPT, runWithRetries, type RetriedOutcome } from '../api-retry.ts';
import { buildPrompt, type PromptInput } from '../prompt.ts';
import { RunBudget } from '../run-budget.ts';
import type { TaskContext } from '../task-context.ts';
import { UserFacingError } from '../user-facing-error.ts';
import type { ConversationState } from './conversation.ts';
import type { RepoInputs } from './repo-inputs.ts';

export const CONTAINER_GITCONFIG = '/etc/airut/gitconfig';

export async function agentStage(ctx: TaskContext, inputs: RepoInputs, conversation: ConversationState, image: string): Promise<RetriedOutcome> {
  const repoMounts = await cloneCompanions(inputs.companions.companions, conversation.paths.root);
  const net = await openTaskNetwork(ctx, inputs);
  ctx.store.setNetworkSandbox(net.sandboxed);
  ctx.onTaskChanged();
  const prompt: PromptInput = {
    isNewConversation: ctx.isFirstTask,
    subject: ctx.subject,
    attachments: conversation.attachments,
    resumedAfterRestart: ctx.isResume,
    companions: repoMounts.map((m) => ({ name: path.basename(m.target), path: m.target, readOnly: m.readOnly })),
    ...promptMails(ctx),
  };
  const parts = { inputs, conversation, image, net, repoMounts };
  // Every run of the task gets what is left of its one budget (run-budget.ts).
  const budget = new RunBudget(inputs.budgetUsd, conversation.resumeSessionId, conversation.carriedCostUsd);
  const run = async (text: string, resume: string | null): Promise<AgentOutcome> =>
    budget.exhausted() ? budget.exceeded(resume) : budget.note(await runAgentOnce(ctx, parts, text, resume, budget.left()));
  const first = async (): Promise<AgentOutcome> => {
    const outcome = await run(buildPrompt(prompt), conversation.resumeSessionId);
    if (outcome.kind !== 'failed' || !outcome.promptTooLong || !conversation.resumeSessionId) return outcome;
    ctx.log.warn('the session no longer fits the context; retrying once in a fresh session');
    return run(buildPrompt({ ...prompt, summaryOfEarlierSession: summaryOfConversation(ctx) }), null);
  };
  let outcome: RetriedOutcome;
  try {
    // Transient API failures: wait and resume the same session (api-retry.ts).
    outcome = await runWithRetries(ctx, ctx.repo.retries, conversation.resumeSessionId, first, (session) => run(RETRY_PROMPT, session));
  } finally {
    await net.close();
    // After the network log's own marker; stores the last result if the cap held it back.
    ctx.events.finish();
  }
  if (outcome.sessionId) await saveSession(ctx, outcome.sessionId);
  // Follow-ups taken live: one reply covers every turn (each answer after a line naming its follow-ups).
  const covering = outcome.kind === 'success' ? ctx.live?.replyText() : null;
  return covering && outcome.kind === 'success' ? { ...outcome, result: covering } : outcome;
}

/**
 * One block per mail (sender and time, as Airut): the task's own, then any follow-ups coalesced into
 * the run; a resumed paused run's own mail was in its first prompt already.
 */
function promptMails(ctx: TaskContext): Pick<PromptInput, 'mails' | 'resumedAfterPause'> {
  const own = { from: ctx.senderLine, receivedAt: ctx.task.createdAt, body: ctx.bodyText };
  const others = ctx.coalesced.map((m) => ({ from: m.senderLine, receivedAt: m.receivedAt, body: m.bodyText }));
  return { mails: ctx.resumedFromPause ? others : [own, ...others], resumedAfterPause: ctx.resumedFromPause };
}

/**
 * The repository's `resource_limits`, `capabilities` and pod settings (`kubernetes`), for the
 * agent's and the trigger command's containers; each backend reads the part it uses.
 */
export function containerSettings(ctx: TaskContext): { limits: ResourceLimits; capabilities: readonly string[]; kube: KubeRunSettings } {
  return { limits: limitsFromConfig(ctx.repo.resourceLimits), capabilities: ctx.repo.capabilities, kube: ctx.repo.kubernetes };
}

/** The task's network, sandboxed or not; also the trigger stage's (src/runner/stages/trigger.ts). */
export async function openTaskNetwork(ctx: TaskContext, inputs: RepoInputs): Promise<TaskNetwork> {
  const { allowlist } = inputs;
  try {
    return await ctx.backend.openNetwork(
      allowlist && {
        taskId: ctx.task.id,
        labels: { repo: ctx.repo.repoId, conversation: ctx.conversationId },
        allowlist,
        masks: inputs.masks,
        signing: inputs.signing,
        log: ctx.log,
        storeLogRows: (rows) => ctx.store.storeNetworkRows(rows),
        onLogged: (lastId) => ctx.onNetworkLogged(lastId),
        maxLogRows: ctx.settings.taskOutput.maxNetworkRows,
        onLogTruncated: (t) => ctx.events.networkTruncated(t),
      },
    );
  } catch (err) {
    throw new UserFacingError('SANDBOX_START_FAILED', 'The network sandbox for this task could not be started, so the task did not run. The operator has the details in the log.', { cause: err });
  }
}

interface RunParts {
  readonly inputs: RepoInputs;
  readonly conversation: ConversationState;
  readonly image: string;
  readonly net: TaskNetwork;
  readonly repoMounts: readonly RepoMount[];
}

function runAgentOnce(ctx: TaskContext, parts: RunParts, prompt: string, resume: string | null, budgetUsd: number | null): Promise<AgentOutcome> {
  const { paths } = parts.conversation;
  const onEvent = (e: AgentEvent) => {
    ctx.live?.observe(e);
    ctx.events.record(e);
    if (e.type === 'system_init' && e.sessionId) {
      const sessionId = e.sessionId;
      ctx.store.saveConversation({ sessionId });
      ctx.conversations.updateContext(ctx.conversationId, (c) => ({ ...c, sessionId })).catch((err: Error) => {
        ctx.log.warn({ err: err.message }, 'could not save the session id to context.json');
      });
    }
  };
  return ctx.backend.runAgent(
    {
      taskId: ctx.task.id,
      labels: { repo: ctx.repo.repoId, conversation: ctx.conversationId },
      image: parts.image,
      mounts: { workspace: paths.workspace, claudeState: paths.claude, inbox: paths.inbox, outbox: paths.outbox, storage: paths.storage },
      extraMounts: [{ source: paths.gitconfig, target: CONTAINER_GITCONFIG }],
      ...(parts.repoMounts.length ? { repoMounts: parts.repoMounts } : {}),
      model: parts.conversation.model,
      maxBudgetUsd: budgetUsd,
      effort: parts.conversation.effort,
      resumeSessionId: resume,
      prompt,
      env: { ...parts.inputs.containerEnv, GIT_CONFIG_GLOBAL: CONTAINER_GITCONFIG },
      network: parts.net,
      timeoutMs: parts.inputs.timeoutSeconds * 1000,
      ...containerSettings(ctx),
      maxLineBytes: ctx.settings.taskOutput.maxLineBytes,
      signal: ctx.signal,
      onInput: (input) => ctx.live?.attach(input),
    },
    onEvent,
  ).finally(() => ctx.live?.detach());
}

async function saveSession(ctx: TaskContext, sessionId: string): Promise<void> {
  await ctx.conversations.updateContext(ctx.conversationId, (c) => ({ ...c, sessionId }));
  ctx.store.saveConversation({ sessionId });
}

/** The earlier session, in a few lines: the original subject and the last answer. */
function summaryOfConversation(ctx: TaskContext): string {
  const history = ctx.store.conversationHistory();
  const lastAnswer = String(history.lastAnswer ?? '');
  const lines = [`- The conversation started with the subject: ${history.subject || ctx.task.subject}`];
  if (lastAnswer) lines.push(`- Your last answer was:\n${lastAnswer.slice(0, 4000)}`);
  return lines.join('\n');
}
