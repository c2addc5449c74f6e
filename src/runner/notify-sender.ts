/**
 * Ends a task from outside its runner (the runner thread died, a queued task was cancelled) and
 * tells the sender by email, in one transaction with the task's final state.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { writeTransaction, type Db } from '../store/database.ts';
import { getTask, getTaskRawMessage } from '../store/task-queries.ts';
import { finishTask, type TaskOutcomeUpdate } from '../store/task-queue.ts';
import { enqueueMail } from '../store/outgoing-mail.ts';
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
): Promise<boolean> {
  const task = getTask(db, taskId);
  const raw = getTaskRawMessage(db, taskId);
  if (!task || !raw || !task.sender || !expectedStatuses.includes(task.status)) return false;
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
  return writeTransaction(db, () => {
    const now = db.prepare(`SELECT status FROM tasks WHERE id = ?`).get(taskId) as { status: string };
    if (!expectedStatuses.includes(now.status)) return false;
    finishTask(db, taskId, update);
    enqueueMail(db, {
      repoId: repo.repoId,
      taskId,
      conversationId: task.conversationId,
      kind: composed.kind,
      messageId: composed.messageId,
      recipient: task.sender!,
      subject: composed.subject,
      raw: composed.raw,
    });
    return true;
  });
}
