/**
 * Queries over `outgoing_mail`, the durable outbox. A mail is written here as complete MIME in the
 * same transaction that finishes its task (so a finished task always has its reply, and a crash
 * never sends a reply for a task the store doesn't know finished), then sent by
 * reply/outbox-sender.ts. Times are milliseconds since the epoch.
 */
import type { Db } from './database.ts';

export type MailKind = 'ack' | 'reply' | 'error' | 'notice';
export type MailStatus = 'pending' | 'sent' | 'failed';

/** Longest `last_error` stored; SMTP servers can answer with pages of text. */
const MAX_ERROR_CHARS = 1000;

export interface NewOutgoingMail {
  readonly repoId: string;
  readonly taskId: number | null;
  readonly conversationId: string | null;
  readonly kind: MailKind;
  /** With angle brackets, as in the header. */
  readonly messageId: string;
  readonly recipient: string;
  readonly subject: string;
  /**
   * The complete RFC 5322 message, sent byte for byte: inline bytes, or a spool file written
   * (and synced) before this row is committed, for messages with attachments.
   */
  readonly raw: Buffer | { readonly path: string; readonly size: number };
  /** The body's markdown as written (the agent's reply, our notice), for the dashboard; null when there is none. */
  readonly bodyMarkdown?: string | null;
}

/** A row without the message bytes, for lists. */
export interface OutgoingMailSummary {
  readonly id: number;
  readonly repoId: string;
  readonly taskId: number | null;
  readonly conversationId: string | null;
  readonly kind: MailKind;
  readonly messageId: string;
  readonly recipient: string;
  readonly subject: string;
  readonly size: number;
  readonly status: MailStatus;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
  readonly sentAt: number | null;
  /** Set while a send is in progress; still set on a pending mail after a crash in the middle of sending. */
  readonly sendingSince: number | null;
  /** The body's markdown as written; null for mail written before it was kept, or without one. */
  readonly bodyMarkdown: string | null;
}

export interface OutgoingMail extends OutgoingMailSummary {
  /** Empty when the message is in a spool file (`rawPath`). */
  readonly raw: Buffer;
  /** The spool file holding the message, or null when `raw` holds it. */
  readonly rawPath: string | null;
}

interface Row {
  id: number;
  repo_id: string;
  task_id: number | null;
  conversation_id: string | null;
  kind: MailKind;
  message_id: string;
  recipient: string;
  subject: string;
  size: number;
  raw?: Buffer;
  raw_path?: string | null;
  status: MailStatus;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number;
  created_at: number;
  sent_at: number | null;
  sending_since: number | null;
  body_markdown: string | null;
}

const SUMMARY_COLUMNS = `id, repo_id, task_id, conversation_id, kind, message_id, recipient, subject,
  CASE WHEN raw_path IS NULL THEN length(raw) ELSE raw_size END AS size, status, attempts, last_error, next_attempt_at, created_at, sent_at, sending_since, body_markdown`;

function toSummary(r: Row): OutgoingMailSummary {
  return {
    id: r.id,
    repoId: r.repo_id,
    taskId: r.task_id,
    conversationId: r.conversation_id,
    kind: r.kind,
    messageId: r.message_id,
    recipient: r.recipient,
    subject: r.subject,
    size: r.size,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    bodyMarkdown: r.body_markdown,
    sendingSince: r.sending_since,
  };
}

function toMail(r: Row): OutgoingMail {
  return { ...toSummary(r), raw: r.raw ?? Buffer.alloc(0), rawPath: r.raw_path ?? null };
}

function clipError(error: string): string {
  const oneLine = error.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_ERROR_CHARS ? `${oneLine.slice(0, MAX_ERROR_CHARS - 1)}…` : oneLine;
}

/**
 * Queues a mail for sending (status `pending`, due now). Opens no transaction of its own: call it
 * inside the caller's write transaction that also records the task's outcome, then kick the
 * sender after the commit. Returns the row id.
 */
export function enqueueMail(db: Db, mail: NewOutgoingMail, now: number = Date.now()): number {
  const spooled = Buffer.isBuffer(mail.raw) ? null : mail.raw;
  const info = db
    .prepare(
      `INSERT INTO outgoing_mail (repo_id, task_id, conversation_id, kind, message_id, recipient, subject, raw,
                                  raw_path, raw_size, status, attempts, next_attempt_at, created_at, body_markdown)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`,
    )
    .run(
      mail.repoId,
      mail.taskId,
      mail.conversationId,
      mail.kind,
      mail.messageId,
      mail.recipient,
      mail.subject,
      spooled ? Buffer.alloc(0) : mail.raw,
      spooled?.path ?? null,
      spooled?.size ?? null,
      now,
      now,
      mail.bodyMarkdown ?? null,
    );
  return Number(info.lastInsertRowid);
}

/**
 * `m` (a pending mail) is not waiting behind an older pending mail of its conversation: replies of
 * a conversation go out in the order they were written.
 */
const HEAD_OF_CONVERSATION = `(m.conversation_id IS NULL OR NOT EXISTS (
  SELECT 1 FROM outgoing_mail AS e
   WHERE e.status = 'pending' AND e.repo_id = m.repo_id
     AND e.conversation_id = m.conversation_id AND e.id < m.id))`;

/**
 * Pending mail due at `now`, oldest first. A mail is left out while an older mail of the same
 * conversation (same repo) is still pending, due or not: replies of a conversation go out in
 * the order they were written, so at most one mail per conversation is returned.
 */
export function duePendingMail(db: Db, now: number, limit = 50): OutgoingMail[] {
  const rows = db
    .prepare(
      `SELECT ${SUMMARY_COLUMNS}, raw, raw_path FROM outgoing_mail AS m
        WHERE m.status = 'pending' AND m.next_attempt_at <= ?
          AND ${HEAD_OF_CONVERSATION}
        ORDER BY m.id
        LIMIT ?`,
    )
    .all(now, Math.max(1, Math.floor(limit))) as Row[];
  return rows.map(toMail);
}

/** How many pending mails are due at `now` (including ones waiting behind an older mail of their conversation). */
export function dueCount(db: Db, now: number): number {
  const row = db
    .prepare(`SELECT count(*) AS n FROM outgoing_mail WHERE status = 'pending' AND next_attempt_at <= ?`)
    .get(now) as { n: number };
  return row.n;
}

/**
 * When the next pending mail the sender may take becomes due, or null when nothing is pending.
 * A mail waiting behind an older pending mail of its conversation is not counted: it goes when
 * that one has gone, whatever its own time says.
 */
export function nextDueAt(db: Db): number | null {
  const row = db
    .prepare(
      `SELECT min(m.next_attempt_at) AS at FROM outgoing_mail AS m
        WHERE m.status = 'pending'
          AND ${HEAD_OF_CONVERSATION}`,
    )
    .get() as { at: number | null };
  return row.at;
}

/**
 * Records that a send is about to start, before the first byte goes to the server. Committed on
 * its own, so that after a crash the mail is known to be "in doubt" (see `sendingSince`).
 */
export function markSending(db: Db, id: number, now: number = Date.now()): boolean {
  const info = db.prepare(`UPDATE outgoing_mail SET sending_since = ? WHERE id = ? AND status = 'pending'`).run(now, id);
  return info.changes > 0;
}

/**
 * Makes every pending mail due at `now` (at start-up: the operator may have fixed what made the
 * sends fail). Order within a conversation is kept by `duePendingMail`. Returns how many.
 */
export function makePendingDue(db: Db, now: number): number {
  return db.prepare(`UPDATE outgoing_mail SET next_attempt_at = ? WHERE status = 'pending' AND next_attempt_at > ?`).run(now, now).changes;
}

/** Records a successful hand-over to the SMTP server. False if the mail was not pending. */
export function markSent(db: Db, id: number, now: number = Date.now()): boolean {
  const info = db
    .prepare(
      `UPDATE outgoing_mail SET status = 'sent', sent_at = ?, attempts = attempts + 1, sending_since = NULL
        WHERE id = ? AND status = 'pending'`,
    )
    .run(now, id);
  return info.changes > 0;
}

/** Records a failed attempt; the mail stays pending and is tried again at `nextAttemptAt`. */
export function markAttemptFailed(db: Db, id: number, error: string, nextAttemptAt: number): boolean {
  const info = db
    .prepare(
      `UPDATE outgoing_mail SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, sending_since = NULL
        WHERE id = ? AND status = 'pending'`,
    )
    .run(clipError(error), nextAttemptAt, id);
  return info.changes > 0;
}

/** Gives up on a mail: status `failed`, with the reason kept for the dashboard. */
export function markPermanentlyFailed(db: Db, id: number, error: string): boolean {
  const info = db
    .prepare(
      `UPDATE outgoing_mail SET status = 'failed', attempts = attempts + 1, last_error = ?, sending_since = NULL
        WHERE id = ? AND status = 'pending'`,
    )
    .run(clipError(error), id);
  return info.changes > 0;
}

/** One mail with its bytes, or null. */
export function getMail(db: Db, id: number): OutgoingMail | null {
  const row = db.prepare(`SELECT ${SUMMARY_COLUMNS}, raw, raw_path FROM outgoing_mail WHERE id = ?`).get(id) as Row | undefined;
  return row ? toMail(row) : null;
}

/** Every mail of a task (ack, reply, errors), oldest first, without the message bytes. */
export function listMailForTask(db: Db, taskId: number): OutgoingMailSummary[] {
  const rows = db
    .prepare(`SELECT ${SUMMARY_COLUMNS} FROM outgoing_mail WHERE task_id = ? ORDER BY id`)
    .all(taskId) as Row[];
  return rows.map(toSummary);
}

/** How many mails wait to be sent, overall or for one repo. */
export function pendingCount(db: Db, repoId?: string): number {
  const row = (
    repoId === undefined
      ? db.prepare(`SELECT count(*) AS n FROM outgoing_mail WHERE status = 'pending'`).get()
      : db.prepare(`SELECT count(*) AS n FROM outgoing_mail WHERE status = 'pending' AND repo_id = ?`).get(repoId)
  ) as { n: number };
  return row.n;
}

/** Spool files still needed: those of pending mail. Anything else in a spool directory is garbage. */
export function pendingSpoolPaths(db: Db): Set<string> {
  const rows = db.prepare(`SELECT raw_path FROM outgoing_mail WHERE status = 'pending' AND raw_path IS NOT NULL`).all() as Array<{
    raw_path: string;
  }>;
  return new Set(rows.map((r) => r.raw_path));
}

/** Whether the task's acknowledgement is queued or sent already (a re-run does not ack again). */
export function ackQueued(db: Db, taskId: number): boolean {
  return !!db.prepare(`SELECT 1 FROM outgoing_mail WHERE task_id = ? AND kind = 'ack' LIMIT 1`).get(taskId);
}
