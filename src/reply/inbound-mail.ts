/**
 * The mail a reply answers: who gets the reply, and the subject, Message-ID and References that
 * thread it. `inboundMailOf` is the one place these facts are picked out of a mail, whoever read
 * it (the listener's outline for a limit reply, the runner's full parse for everything after it);
 * `readTaskMail` is the one place a task's mail is read back from the store and parsed for them.
 */
import { parseMessage, type ParsedMessage } from '../email/parse.ts';
import type { Db } from '../store/database.ts';
import { getTask, getTaskRawMessage, type TaskRow } from '../store/task-queries.ts';

export interface InboundMail {
  /** The original sender, a bare address: the reply's recipient. */
  readonly sender: string;
  /** The subject as received; the reply's `Re: [ID:…]` subject is built from it. */
  readonly subject: string;
  /** With angle brackets; null when the mail had none (the reply then has no In-Reply-To). */
  readonly messageId: string | null;
  /** The mail's References, oldest first. */
  readonly references: readonly string[];
}

/** The threading facts of a mail, as a listener's outline or a full parse gives them. */
export interface ThreadingFacts {
  readonly subject: string;
  readonly messageId: string | null;
  readonly references?: readonly string[] | undefined;
}

export function inboundMailOf(sender: string, facts: ThreadingFacts): InboundMail {
  return { sender, subject: facts.subject, messageId: facts.messageId, references: facts.references ?? [] };
}

/** A task's row and its mail, parsed, with the facts a reply to it needs. */
export interface TaskMail {
  readonly task: TaskRow;
  readonly parsed: ParsedMessage;
  /** The task's sender ('' when the row has none) and the mail's threading headers. */
  readonly inbound: InboundMail;
}

/** Reads a task's row and raw mail from the store and parses the mail; null when either is missing. */
export async function readTaskMail(db: Db, taskId: number): Promise<TaskMail | null> {
  const task = getTask(db, taskId);
  const raw = getTaskRawMessage(db, taskId);
  if (!task || !raw) return null;
  const parsed = await parseMessage(raw);
  return { task, parsed, inbound: inboundMailOf(task.sender ?? '', parsed) };
}
