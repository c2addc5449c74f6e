/**
 * Queues a reply as the task runner does (the task row and the mail in one transaction), for the
 * outbox tests; returns the mail id.
 */
import { composeMail } from '../../src/reply/compose.ts';

import { writeTransaction, type Db } from '../../src/store/database.ts';
import { enqueueMail } from '../../src/store/outgoing-mail.ts';

export interface QueuedReply {
  readonly subject: string;
  readonly conversationId: string;
  /** The repository's From header and bare address. */
  readonly from: string;
  readonly fromAddress: string;
}

export async function queueReply(db: Db, r: QueuedReply): Promise<number> {
  const msg = db.prepare(`INSERT INTO messages (repo_id, raw_sha256, size, raw, received_at) VALUES ('api', ?, 1, x'00', 0)`).run(`sha-${Math.random()}`);
  const taskId = Number(
    db
      .prepare(`INSERT INTO tasks (repo_id, message_row, conversation_id, sender, subject, status, created_at) VALUES ('api', ?, ?, 'alice@example.org', ?, 'running', 0)`)
      .run(msg.lastInsertRowid, r.conversationId, r.subject).lastInsertRowid,
  );
  const mail = await composeMail({
    repoEmail: { from: r.from, fromAddress: r.fromAddress },
    to: 'alice@example.org',
    conversationId: r.conversationId,
    originalSubject: r.subject,
    inReplyTo: '<q@mail.example.org>',
    references: [],
    body: { kind: 'reply', markdown: `answer to ${r.subject}` },
  });
  return writeTransaction(db, () => {
    db.prepare(`UPDATE tasks SET status = 'completed' WHERE id = ?`).run(taskId);
    return enqueueMail(
      db,
      { repoId: 'api', taskId, conversationId: r.conversationId, kind: mail.kind, messageId: mail.messageId, recipient: 'alice@example.org', subject: mail.subject, raw: mail.raw },
      Date.now(),
    );
  });
}
