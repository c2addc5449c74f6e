/**
 * Stage 2, conversation: the conversation's files and row — created with its model for a new
 * conversation, read back (model, session to resume) for a later task — the workspace cloned for
 * the first task, the acknowledgement of the first task, and the mail's attachments in inbox/.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ConversationPaths } from '../../conversation/index.ts';
import { saveAttachments } from '../attachments.ts';
import { asEffort, chooseModel } from '../model.ts';
import type { Effort } from '../../config/types.ts';
import type { TaskContext } from '../task-context.ts';
import { UserFacingError } from '../user-facing-error.ts';
import type { RepoInputs } from './repo-inputs.ts';
import { carriedCost } from '../session-cost.ts';

export interface ConversationState {
  readonly model: string;
  /** `--effort`, pinned at the conversation's first task; null: Claude Code's default. */
  readonly effort: Effort | null;
  /** The Claude session to resume; null for a fresh one. */
  readonly resumeSessionId: string | null;
  readonly paths: ConversationPaths;
  /** File names of the handled mails' attachments as saved in inbox/. */
  readonly attachments: readonly string[];
  /** The cost total the resumed session carries into the run's `total_cost_usd` (see src/runner/session-cost.ts). */
  readonly carriedCostUsd: number;
}

export async function conversationStage(ctx: TaskContext, inputs: RepoInputs): Promise<ConversationState> {
  const { model, effort, resumeSessionId, carriedCostUsd } = await openConversation(ctx, inputs);
  const paths = ctx.conversations.paths(ctx.conversationId);
  if (ctx.isFirstTask && !(await isGitCheckout(paths.workspace))) await cloneWorkspace(ctx, paths);
  // Workspaces cloned before origin lost its token still carry it; the next container must not see it.
  if (await ctx.mirror.scrubWorkspace(paths.workspace)) ctx.log.warn('removed repository credentials from the workspace git config');
  // A re-run of the first task after a crash finds its acknowledgement queued already. A
  // scheduled run is not acknowledged: nobody is waiting for it, the answer is the news.
  if (ctx.isFirstTask && ctx.schedule === null && !ctx.store.ackQueued()) {
    const base = ctx.settings.dashboardBaseUrl;
    await ctx.reply({ kind: 'ack', dashboardUrl: base ? `${base}/conversations/${ctx.repo.repoId}/${ctx.conversationId}` : null });
  }
  ctx.store.setModel(model);
  ctx.store.setEffort(effort);
  return { model, effort, resumeSessionId, paths, attachments: await saveAllAttachments(ctx), carriedCostUsd };
}

/**
 * Every handled mail's attachments, in order: the task's own (not again when resuming a paused
 * run: its first run saved them), then each coalesced follow-up's; each mail's kept for the
 * dashboard under the id of its own task.
 */
async function saveAllAttachments(ctx: TaskContext): Promise<string[]> {
  const mails = [
    ...(ctx.resumedFromPause ? [] : [{ taskId: ctx.task.id, raw: ctx.store.rawMessage() }]),
    ...ctx.coalesced.map((m) => ({ taskId: m.taskId, raw: m.raw })),
  ];
  const names: string[] = [];
  for (const mail of mails) {
    const saved = await saveAttachments(mail.raw, ctx.conversations, ctx.conversationId);
    for (const s of saved) names.push(s.savedName);
    await ctx.files.keepMailFiles(mail.taskId, saved);
  }
  return names;
}

/**
 * The directory says whether the conversation's files exist yet (they may, for a first task re-run
 * after a crash); the model and the effort are fixed when they are made, so a conversation keeps
 * them when the configuration changes later.
 */
async function openConversation(
  ctx: TaskContext,
  inputs: RepoInputs,
): Promise<{ model: string; effort: Effort | null; resumeSessionId: string | null; carriedCostUsd: number }> {
  const { conversations, conversationId, task } = ctx;
  if (await conversations.exists(conversationId)) {
    const c = await conversations.readContext(conversationId);
    return { model: c.model, effort: asEffort(ctx.store.conversationEffort()), resumeSessionId: c.sessionId, carriedCostUsd: carriedCost(c, c.sessionId) };
  }
  const { model, effort } = newConversationSettings(ctx, inputs);
  await conversations.create(conversationId, { repoId: ctx.repo.repoId, model, subject: ctx.subject, sender: task.sender ?? undefined });
  ctx.store.saveConversation({ model, effort, subject: ctx.subject, sender: task.sender });
  return { model, effort, resumeSessionId: null, carriedCostUsd: 0 };
}

/**
 * Model: the `+alias` hint (or a schedule's preset) if allowed, else the server config's
 * `repos.<id>.model`, else the repository's `default_model` ('sonnet' when unset). Effort: the task
 * row's preset (a schedule's), else `repos.<id>.effort`.
 */
function newConversationSettings(ctx: TaskContext, inputs: RepoInputs): { model: string; effort: Effort | null } {
  const choice = chooseModel(ctx.task.modelHint, ctx.repo.model ?? inputs.repoConfig.defaultModel, ctx.settings.allowedModels);
  if (choice.ignoredHint) ctx.log.warn({ hint: choice.ignoredHint, model: choice.model }, 'unknown model hint; using the default');
  return { model: choice.model, effort: asEffort(ctx.task.effort) ?? ctx.repo.effort };
}

/** New conversation, or a re-run after a crash in the middle of the first clone. */
async function cloneWorkspace(ctx: TaskContext, paths: ConversationPaths): Promise<void> {
  await fs.rm(paths.workspace, { recursive: true, force: true });
  try {
    await ctx.mirror.cloneWorkspace(paths.workspace);
  } catch (err) {
    throw new UserFacingError('GIT_CLONE_FAILED', `I could not clone the repository: ${(err as Error).message}`, { cause: err });
  }
  await ctx.conversations.writeGitconfig(ctx.conversationId, gitIdentity(ctx.repo.email.from, ctx.repo.email.fromAddress), { include: ['/root/.gitconfig'] });
}

async function isGitCheckout(dir: string): Promise<boolean> {
  return fs.stat(path.join(dir, '.git')).then(
    () => true,
    () => false,
  );
}

/** Commits in the workspace are made as the repo's own address. */
export function gitIdentity(from: string, fromAddress: string): { name: string; email: string } {
  const display = from.replace(/<[^>]*>/, '').replace(/"/g, '').trim();
  return { name: display || 'Airut', email: fromAddress };
}
