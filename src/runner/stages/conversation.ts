/**
 * Stage 2, conversation: the conversation's files and row — created with its model for a new
 * conversation, read back (model, session to resume) for a later task — the workspace cloned for
 * the first task, the acknowledgement of the first task, and the mail's attachments in inbox/.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ConversationPaths } from '../../conversation/index.ts';
import { saveAttachments } from '../attachments.ts';
import { chooseModel } from '../model.ts';
import type { TaskContext } from '../task-context.ts';
import { UserFacingError } from '../user-facing-error.ts';
import type { RepoInputs } from './repo-inputs.ts';

export interface ConversationState {
  readonly model: string;
  /** The Claude session to resume; null for a fresh one. */
  readonly resumeSessionId: string | null;
  readonly paths: ConversationPaths;
  /** File names of the handled mails' attachments as saved in inbox/. */
  readonly attachments: readonly string[];
}

export async function conversationStage(ctx: TaskContext, inputs: RepoInputs): Promise<ConversationState> {
  const { model, resumeSessionId } = await openConversation(ctx, inputs);
  const paths = ctx.conversations.paths(ctx.conversationId);
  if (ctx.isFirstTask && !(await isGitCheckout(paths.workspace))) await cloneWorkspace(ctx, paths);
  // Workspaces cloned before origin lost its token still carry it; the next container must not see it.
  if (await ctx.mirror.scrubWorkspace(paths.workspace)) ctx.log.warn('removed repository credentials from the workspace git config');
  // A re-run of the first task after a crash finds its acknowledgement queued already.
  if (ctx.isFirstTask && !ctx.store.ackQueued()) {
    const base = ctx.settings.dashboardBaseUrl;
    await ctx.reply({ kind: 'ack', dashboardUrl: base ? `${base}/conversations/${ctx.repo.repoId}/${ctx.conversationId}` : null });
  }
  ctx.store.setModel(model);
  return { model, resumeSessionId, paths, attachments: await saveAllAttachments(ctx) };
}

/**
 * Every handled mail's attachments, in order: the task's own (not again when resuming a paused
 * run: its first run saved them), then each coalesced follow-up's.
 */
async function saveAllAttachments(ctx: TaskContext): Promise<string[]> {
  const raws = [...(ctx.resumedFromPause ? [] : [ctx.store.rawMessage()]), ...ctx.coalesced.map((m) => m.raw)];
  const names: string[] = [];
  for (const raw of raws) {
    for (const s of await saveAttachments(raw, ctx.conversations, ctx.conversationId)) names.push(s.savedName);
  }
  return names;
}

/**
 * The directory says whether the conversation's files exist yet (they may, for a first task re-run
 * after a crash); the model is fixed when they are made.
 */
async function openConversation(ctx: TaskContext, inputs: RepoInputs): Promise<{ model: string; resumeSessionId: string | null }> {
  const { conversations, conversationId, task } = ctx;
  if (await conversations.exists(conversationId)) {
    const c = await conversations.readContext(conversationId);
    return { model: c.model, resumeSessionId: c.sessionId };
  }
  const choice = chooseModel(task.modelHint, inputs.repoConfig.defaultModel, ctx.settings.allowedModels);
  if (choice.ignoredHint) ctx.log.warn({ hint: choice.ignoredHint, model: choice.model }, 'unknown model hint; using the default');
  const model = choice.model;
  await conversations.create(conversationId, { repoId: ctx.repo.repoId, model, subject: ctx.subject, sender: task.sender ?? undefined });
  ctx.store.saveConversation({ model, subject: ctx.subject, sender: task.sender });
  return { model, resumeSessionId: null };
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
