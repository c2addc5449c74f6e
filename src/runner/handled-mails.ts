/**
 * The other mails a run answers: follow-ups coalesced into it at its claim (store/task-merges.ts),
 * read back and parsed like the task's own mail. Their text goes into the prompt as one block per
 * mail, their attachments into /inbox, and the reply threads to the newest of them. Each one's
 * request text is recorded under its own task id (task_requests) as it is read.
 */
import { senderLine } from '../email/from-address.ts';
import type { Db } from '../store/database.ts';
import { mergedInto } from '../store/task-merges.ts';
import { getTaskRawMessage, type TaskRow } from '../store/task-queries.ts';
import { saveTaskRequest } from '../store/task-content.ts';
import { requestTexts } from '../email/parse.ts';
import { readTaskMail, type InboundMail } from '../reply/inbound-mail.ts';

export interface HandledMail {
  readonly taskId: number;
  /** The sender's address ('' when the row has none). */
  readonly sender: string;
  /** The sender as the prompt names them: the From header's name and address (senderLine). */
  readonly senderLine: string;
  /** When the mail was accepted (ms since the epoch). */
  readonly receivedAt: number;
  /** The text with the quoted history removed. */
  readonly bodyText: string;
  readonly raw: Buffer;
  readonly inbound: InboundMail;
}

/**
 * The mails coalesced into `task`, oldest first. A run that resumes a paused task reads only those
 * merged by its own claim (at its `started_at`): the earlier ones were in the paused run's prompt.
 */
export async function readCoalescedMails(db: Db, task: TaskRow, resumedFromPause: boolean): Promise<HandledMail[]> {
  const since = resumedFromPause ? (task.startedAt ?? 0) : 0;
  const mails: HandledMail[] = [];
  for (const m of mergedInto(db, task.id, { kind: 'coalesced', since })) {
    const mail = await readTaskMail(db, m.id);
    const raw = getTaskRawMessage(db, m.id);
    // Retention may have emptied an old mail; what is left of the others still runs.
    if (!mail || !raw) continue;
    // Each coalesced mail's request under its own task id, where the dashboard's thread shows it.
    saveTaskRequest(db, m.id, requestTexts(mail.parsed));
    mails.push({ taskId: m.id, sender: mail.inbound.sender, senderLine: senderLine(mail.parsed.from, mail.inbound.sender), receivedAt: m.createdAt, bodyText: mail.parsed.bodyText, raw, inbound: mail.inbound });
  }
  return mails;
}
