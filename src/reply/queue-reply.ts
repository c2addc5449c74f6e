/**
 * The one way into the outbox (`outgoing_mail`): compose a reply to an inbound mail, then queue it
 * in one write transaction together with whatever must commit with it — the task's final state
 * (runner, notices) or the record of the mail a limit refused (supervisor). Either both commit or
 * neither does, so a finished task always has its reply and a reply never goes out for a state the
 * store doesn't hold.
 *
 * Composing is asynchronous (attachments are read, a spool file is synced) and so happens before
 * the transaction, which better-sqlite3 runs synchronously. What the transaction finds can still
 * decide that no mail is due (another thread already finished the task, the mail was a duplicate):
 * the composed mail is then dropped, and its spool file removed.
 *
 * Every reply of a task (not the acknowledgement) also records the task's result text
 * (task_results), and a reply to a task submitted over the API without a reply address
 * (api-sender.ts) records only that: no mail is queued to that address, ever.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { writeTransaction, type Db } from '../store/database.ts';
import { enqueueMail } from '../store/outgoing-mail.ts';
import { saveTaskResult, type TaskResult } from '../store/task-results.ts';
import { isApiSender } from './api-sender.ts';
import { composeMail, composeMailToFile, type ComposeBody, type ComposedMail, type ReplyAttachment, type SpooledMail } from './compose.ts';
import type { InboundMail } from './inbound-mail.ts';
import { removeSpoolFile, spoolDir } from './spool.ts';

/**
 * The conversation id in the subject tag and Message-ID of a reply to mail that belongs to no
 * conversation (a refused mail, a task that ended before it was given one). A reply to such a
 * reply carries no id this repo knows, so it starts a new conversation, as it should.
 */
export const NO_CONVERSATION_ID = '00000000';

/** The repository a reply goes out for: its From, its id, and where its spool files live. */
export type ReplyRepo = Pick<RepoServerConfig, 'repoId' | 'email' | 'storageDir'>;

export interface ReplyRequest {
  /** The mail answered: the recipient and the threading headers. */
  readonly inReplyTo: InboundMail;
  /** The conversation the queued mail is filed under (send order, dashboard, clean-up); null for none. */
  readonly conversationId: string | null;
  /**
   * The conversation named in the subject tag and the Message-ID, when it is not `conversationId`:
   * a limit reply stays in the thread of the conversation it answers without being filed under it.
   * Default `conversationId`; `NO_CONVERSATION_ID` when both are null.
   */
  readonly threadConversationId?: string | null;
  readonly body: ComposeBody;
  /** With any, the message is streamed into a spool file (see spool.ts) rather than held in memory. */
  readonly attachments?: readonly ReplyAttachment[];
  /** Start of the spool file's name, for a person reading the directory; default `reply`. */
  readonly spoolStem?: string;
  /** When the mail is composed (its Date and Message-ID), in ms since the epoch; default now. */
  readonly now?: number;
}

/** What the writes that commit with the mail decide, and the value `queueReply` hands back. */
export type QueueDecision<T> =
  /** Queue the mail for this task (null: for no task). */
  | { readonly queue: true; readonly taskId: number | null; readonly value: T }
  /** Queue nothing; what the callback wrote still commits. */
  | { readonly queue: false; readonly value: T };

export interface QueuedReply<T> {
  /** The mail as queued (Message-ID, subject, kind), or null when the decision was not to queue. */
  readonly mail: ComposedMail | SpooledMail | null;
  readonly value: T;
}

/**
 * Composes the reply, then in one write transaction runs `alongside` (the writes that must commit
 * with the mail, and the decision whether to queue it) and queues the mail. A failed transaction
 * rolls back both and rethrows, leaving no spool file behind. Kick the outbox sender after it resolves.
 */
export async function queueReply<T>(db: Db, repo: ReplyRepo, reply: ReplyRequest, alongside: () => QueueDecision<T>): Promise<QueuedReply<T>> {
  const composed = await compose(repo, reply);
  let decision: QueueDecision<T>;
  try {
    decision = writeTransaction(db, () => {
      const d = alongside();
      if (d.queue && d.taskId !== null && reply.body.kind !== 'ack') {
        saveTaskResult(db, d.taskId, resultOf(reply.body), reply.now);
      }
      if (d.queue && !isApiSender(reply.inReplyTo.sender)) {
        enqueueMail(db, {
          repoId: repo.repoId,
          taskId: d.taskId,
          conversationId: reply.conversationId,
          kind: composed.kind,
          messageId: composed.messageId,
          recipient: reply.inReplyTo.sender,
          subject: composed.subject,
          raw: composed.raw,
          bodyMarkdown: composed.bodyMarkdown,
        });
      }
      return d;
    });
  } catch (err) {
    await discard(composed);
    throw err;
  }
  if (!decision.queue) await discard(composed);
  return { mail: decision.queue ? composed : null, value: decision.value };
}

/** What the task answered, without the mail's framing (usage line, links): the agent's text, or the error or notice. */
function resultOf(body: ComposeBody): TaskResult {
  switch (body.kind) {
    case 'reply':
      return { text: body.markdown, isError: false };
    case 'error':
      return { text: body.message, isError: true };
    case 'notice':
      return { text: body.markdown, isError: true };
    case 'ack':
      return { text: '', isError: false };
  }
}

function compose(repo: ReplyRepo, reply: ReplyRequest): Promise<ComposedMail | SpooledMail> {
  const attachments = reply.attachments ?? [];
  const input = {
    repoEmail: repo.email,
    to: reply.inReplyTo.sender,
    conversationId: reply.threadConversationId ?? reply.conversationId ?? NO_CONVERSATION_ID,
    originalSubject: reply.inReplyTo.subject,
    inReplyTo: reply.inReplyTo.messageId,
    references: reply.inReplyTo.references,
    body: reply.body,
    attachments,
    ...(reply.now !== undefined ? { now: reply.now } : {}),
  };
  // With attachments the message goes to a spool file, streamed in and out; without, it is small.
  return attachments.length > 0 ? composeMailToFile(input, spoolDir(repo.storageDir), reply.spoolStem ?? 'reply') : composeMail(input);
}

/** Removes the spool file of a mail that was not queued; nothing else holds it. */
async function discard(mail: ComposedMail | SpooledMail): Promise<void> {
  if (!Buffer.isBuffer(mail.raw)) await removeSpoolFile(mail.raw.path).catch(() => undefined);
}
