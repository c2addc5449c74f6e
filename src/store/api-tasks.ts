/**
 * Tasks submitted over the task API (src/dashboard/routes/submit.ts): the api_tasks row written with
 * the task at acceptance, the conversation id a new conversation gets right then (so the answer can
 * name it), and what the runner reads back (the budget the caller asked for).
 */
import { randomBytes } from 'node:crypto';
import type { ApiSubmission } from '../protocol/incoming-mail.ts';
import { conversationIdTaken, conversationRecord } from './conversations.ts';
import type { Db } from './database.ts';

export interface ApiTaskRow {
  readonly taskId: number;
  readonly token: string | null;
  readonly replyTo: string | null;
  readonly newConversation: boolean;
  readonly budgetUsd: number | null;
}

/** A fresh conversation id of this repository, collision-checked like the claim's (task-queue.ts). */
function freshConversationId(db: Db, repoId: string): string {
  for (;;) {
    const id = randomBytes(4).toString('hex');
    if (!conversationIdTaken(db, repoId, id)) return id;
  }
}

/**
 * Records an accepted or refused API task (inside acceptMail's transaction). An accepted task that
 * starts a conversation gets its id now, on tasks.conversation_id, where the claim finds it.
 */
export function markApiTask(db: Db, taskId: number, repoId: string, accepted: boolean, api: ApiSubmission): void {
  const newConversation = accepted && api.newConversation;
  db.prepare(`INSERT INTO api_tasks (task_id, token, reply_to, new_conversation, budget_usd) VALUES (?, ?, ?, ?, ?)`).run(
    taskId,
    api.token,
    api.replyTo,
    newConversation ? 1 : 0,
    api.budgetUsd,
  );
  if (!accepted) return;
  const conversationId = newConversation ? freshConversationId(db, repoId) : null;
  db.prepare(`UPDATE tasks SET conversation_id = COALESCE(?, conversation_id), effort = COALESCE(?, effort) WHERE id = ?`).run(
    conversationId,
    newConversation ? api.effort : null,
    taskId,
  );
}

export function getApiTask(db: Db, taskId: number): ApiTaskRow | null {
  const r = db.prepare(`SELECT task_id, token, reply_to, new_conversation, budget_usd FROM api_tasks WHERE task_id = ?`).get(taskId) as
    | { task_id: number; token: string | null; reply_to: string | null; new_conversation: number; budget_usd: number | null }
    | undefined;
  if (!r) return null;
  return { taskId: r.task_id, token: r.token, replyTo: r.reply_to, newConversation: r.new_conversation === 1, budgetUsd: r.budget_usd };
}

/**
 * A conversation a new message may join: live (conversations.ts), and begun — it has its row, or a
 * task that started or still will. One whose only task left the queue before it ran has no
 * workspace, and a follow-up would run as a continuation of nothing.
 */
export function conversationContinuable(db: Db, repoId: string, conversationId: string): boolean {
  if (conversationRecord(db, repoId, conversationId) !== 'live') return false;
  return !!db
    .prepare(
      `SELECT 1 FROM conversations WHERE repo_id = ? AND id = ?
       UNION ALL SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ?
         AND (started_at IS NOT NULL OR status IN ('queued', 'running', 'paused')) LIMIT 1`,
    )
    .get(repoId, conversationId, repoId, conversationId);
}

/** True when the task starts the conversation assigned to it at acceptance (the claim must not resume it). */
export function startsPreassignedConversation(db: Db, taskId: number): boolean {
  return !!db.prepare(`SELECT 1 FROM api_tasks WHERE task_id = ? AND new_conversation = 1`).get(taskId);
}
