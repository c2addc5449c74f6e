/**
 * Ends a task from outside its runner (the runner thread died, a queued task was cancelled) and
 * tells the sender by email, in one transaction with the task's final state.
 */
import type { RepoServerConfig } from '../config/types.ts';
import type { Db } from '../store/database.ts';
import { finishTask, type TaskOutcomeUpdate } from '../store/task-queue.ts';
import type { ComposeBody } from '../reply/compose.ts';
import { readTaskMail } from '../reply/inbound-mail.ts';
import { queueReply } from '../reply/queue-reply.ts';

export async function finishTaskWithMail(
  db: Db,
  repo: RepoServerConfig,
  taskId: number,
  body: ComposeBody,
  update: TaskOutcomeUpdate,
  /** Only finish the task if it is still in one of these states (another thread may have won). */
  expectedStatuses: readonly string[],
): Promise<boolean> {
  const taskMail = await readTaskMail(db, taskId);
  if (!taskMail) return false;
  const { task, inbound } = taskMail;
  if (!task.sender || !expectedStatuses.includes(task.status)) return false;
  // A queued task may not have a conversation yet; the reply still threads by In-Reply-To.
  const { value: finished } = await queueReply(db, repo, { inReplyTo: inbound, conversationId: task.conversationId, body }, () => {
    const now = db.prepare(`SELECT status FROM tasks WHERE id = ?`).get(taskId) as { status: string };
    if (!expectedStatuses.includes(now.status)) return { queue: false, value: false };
    finishTask(db, taskId, update);
    return { queue: true, taskId, value: true };
  });
  return finished;
}
