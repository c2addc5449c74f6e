/**
 * Ends a task from outside its runner (the runner thread died, a queued task was cancelled) and
 * tells the sender by email, in one transaction with the task's final state.
 */
import type { RepoServerConfig } from '../config/types.ts';
import type { Db } from '../store/database.ts';
import { finishTask, type TaskOutcomeUpdate } from '../store/task-queue.ts';
import type { ExpectedTaskState } from '../store/task-transitions.ts';
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
  /** Only if it is still this attempt (the dispatcher's claim); default: the attempt it is in now. */
  expectedAttempt?: number,
): Promise<boolean> {
  const taskMail = await readTaskMail(db, taskId);
  if (!taskMail) return false;
  const { task, inbound } = taskMail;
  if (!task.sender || !expectedStatuses.includes(task.status)) return false;
  if (expectedAttempt !== undefined && task.attempts !== expectedAttempt) return false;
  // The state it was seen in; the transition applies only if the row is still in it.
  const expected: ExpectedTaskState = { status: task.status, attempt: task.attempts };
  // A queued task may not have a conversation yet; the reply still threads by In-Reply-To.
  const { value: finished } = await queueReply(db, repo, { inReplyTo: inbound, conversationId: task.conversationId, body }, () => {
    // Refused when the task moved on while the mail was composed (another thread won): then no mail either.
    if (!finishTask(db, taskId, expected, update).applied) return { queue: false, value: false };
    return { queue: true, taskId, value: true };
  });
  return finished;
}
