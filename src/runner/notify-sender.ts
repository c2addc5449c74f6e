/**
 * Ends a task from outside its runner (the runner thread died, a queued task was cancelled) and
 * tells the sender by email, in one transaction with the task's final state.
 */
import type { RepoServerConfig } from '../config/types.ts';
import type { Db } from '../store/database.ts';
import { getTask, getTaskRawMessage } from '../store/task-queries.ts';
import type { TaskOutcomeUpdate } from '../store/task-queue.ts';
import type { ExpectedTaskState } from '../store/task-transitions.ts';
import { queueMailWithOutcome } from '../store/task-outcome.ts';
import { parseMessage } from '../email/parse.ts';
import { composeMail, type ComposeBody } from '../reply/compose.ts';

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
  const task = getTask(db, taskId);
  const raw = getTaskRawMessage(db, taskId);
  if (!task || !raw || !task.sender || !expectedStatuses.includes(task.status)) return false;
  if (expectedAttempt !== undefined && task.attempts !== expectedAttempt) return false;
  // The state it was seen in; the transition below applies only if the row is still in it.
  const expected: ExpectedTaskState = { status: task.status, attempt: task.attempts };
  const parsed = await parseMessage(raw);
  const composed = await composeMail({
    repoEmail: repo.email,
    to: task.sender,
    // A queued task may not have a conversation yet; the reply still threads by In-Reply-To.
    conversationId: task.conversationId ?? '00000000',
    originalSubject: parsed.subject,
    inReplyTo: parsed.messageId,
    references: parsed.references,
    body,
  });
  // False when the task moved on while the mail was composed (another thread won): then no mail either.
  return queueMailWithOutcome(
    db,
    {
      repoId: repo.repoId,
      taskId,
      conversationId: task.conversationId,
      kind: composed.kind,
      messageId: composed.messageId,
      recipient: task.sender,
      subject: composed.subject,
      raw: composed.raw,
    },
    { expected, update },
  )!.applied;
}
