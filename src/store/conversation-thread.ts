/**
 * The Message-IDs of a conversation's mail, oldest first: what a new message of the conversation
 * that did not come by mail (the task API's follow-up) puts in In-Reply-To and References, so a
 * mail client shows it, and the reply to it, in the conversation's thread.
 */
import type { Db } from './database.ts';

/** At most this many References (RFC 5322 sets no limit; clients keep the first and the last few). */
export const MAX_REFERENCES = 20;

export interface ConversationThread {
  /** The newest message of the conversation (our reply when there is one); null when none has a Message-ID. */
  readonly lastMessageId: string | null;
  /** The conversation's first message, then the newest ones, oldest first, at most MAX_REFERENCES. */
  readonly references: readonly string[];
  /** The subject its first task came with ('' when it has none): a new message's subject, before its tag. */
  readonly subject: string;
}

export function conversationThread(db: Db, repoId: string, conversationId: string): ConversationThread {
  const rows = db
    .prepare(
      `SELECT message_id AS id, created_at AS at, 0 AS ours FROM tasks
        WHERE repo_id = ? AND conversation_id = ? AND message_id IS NOT NULL AND status <> 'rejected'
       UNION ALL
       SELECT message_id, created_at, 1 FROM outgoing_mail WHERE repo_id = ? AND conversation_id = ? AND kind <> 'ack'
       ORDER BY at, ours`,
    )
    .all(repoId, conversationId, repoId, conversationId) as Array<{ id: string }>;
  const ids = [...new Set(rows.map((r) => r.id))];
  const references = ids.length <= MAX_REFERENCES ? ids : [ids[0]!, ...ids.slice(ids.length - MAX_REFERENCES + 1)];
  const first = db
    .prepare(`SELECT subject FROM tasks WHERE repo_id = ? AND conversation_id = ? AND status <> 'rejected' ORDER BY id LIMIT 1`)
    .get(repoId, conversationId) as { subject: string } | undefined;
  return { lastMessageId: ids.at(-1) ?? null, references, subject: first?.subject ?? '' };
}
