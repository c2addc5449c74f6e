/**
 * A task's outcome and the mail that announces it, recorded together: one write transaction, the
 * outcome first, and the mail only if the outcome applied. A run that lost its task meanwhile (its
 * lease lapsed and the task was claimed again, or an operator's Stop won the race) neither overwrites
 * the newer state nor sends a second answer.
 */
import { writeTransaction, type Db } from './database.ts';
import { enqueueMail, type NewOutgoingMail } from './outgoing-mail.ts';
import { finishTask, type TaskOutcomeUpdate } from './task-queue.ts';
import type { ExpectedTaskState, TransitionResult } from './task-transitions.ts';

export interface TaskOutcome {
  /** The state the caller saw: the transition applies only while the row is still in it. */
  readonly expected: ExpectedTaskState;
  readonly update: TaskOutcomeUpdate;
}

/**
 * Queues `mail`, finishing its task with `outcome` when given. Returns null when there was no
 * outcome to record (the mail is queued), else whether the outcome applied (and so the mail).
 */
export function queueMailWithOutcome(db: Db, mail: NewOutgoingMail & { readonly taskId: number }, outcome?: TaskOutcome): TransitionResult | null {
  return writeTransaction(db, () => {
    const result = outcome ? finishTask(db, mail.taskId, outcome.expected, outcome.update) : null;
    if (result && !result.applied) return result;
    enqueueMail(db, mail);
    return result;
  });
}
