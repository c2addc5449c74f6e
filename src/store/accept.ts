/**
 * Durable acceptance: the one place where an email becomes a record. The raw message and its
 * task row are written in one transaction; only after it commits may the listener remove the
 * mail from the server. Calling it twice for the same mail is harmless (see `acceptMail`).
 * A rejected mail keeps its header section only, within a daily budget (src/limits/rejected-mail.ts).
 */
import { createHash } from 'node:crypto';
import { DEFAULTS } from '../config/defaults.ts';
import { rejectedStorage, type RejectedMailPolicy } from '../limits/rejected-mail.ts';
import type { IncomingMail, RecordedOutcome } from '../protocol/incoming-mail.ts';
import { writeTransaction, type Db } from './database.ts';
import { markApiTask } from './api-tasks.ts';
import { requestedReposColumn } from './conversation-repos.ts';
import { markScheduledTask } from './schedule-slots.ts';
import { noteRejectedHeadersStored, noteRejectedMetadataOnly, rejectedBytesStoredOn } from './rejected-mail.ts';

/** Used when no configuration is passed (tools, tests): the defaults of `rejected_mail:`. */
export const DEFAULT_REJECTED_MAIL_POLICY: RejectedMailPolicy = Object.freeze({
  maxStoredBytesPerDay: DEFAULTS.rejectedMaxStoredBytesPerDay,
  perSourcePerHour: DEFAULTS.rejectedPerSourcePerHour,
});

/** Why a mail was refused: stored in `tasks.reason`, also a metrics label; re-exported for the store's callers. */
export type { RejectReason } from '../limits/reject-reason.ts';

export function rawDigest(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex');
}

/**
 * The dedupe key of a recorded mail: the hash of its bytes. For a header-only record, the hash
 * also covers the full size, so two big mails with identical headers but different bodies (rare,
 * but a crafted pair could) are less likely to pass for one.
 */
export function recordDigest(mail: Pick<IncomingMail, 'raw' | 'size' | 'headersOnly'>): string {
  if (!mail.headersOnly) return rawDigest(mail.raw);
  return createHash('sha256').update(`headers-only ${mail.size ?? mail.raw.byteLength}\n`).update(mail.raw).digest('hex');
}

/** The task of a mail recorded earlier (same bytes, or an accepted mail with the same Message-ID), or null. */
export function findRecordedMail(db: Db, mail: IncomingMail): number | null {
  return earlierTask(db, mail, recordDigest(mail));
}

function earlierTask(db: Db, mail: IncomingMail, digest: string): number | null {
  // Exact same bytes seen before in this repo: the listener crashed (or the server refused the
  // delete) after we recorded it. Answer with the earlier task.
  const sameBytes = db
    .prepare(
      `SELECT t.id FROM messages m JOIN tasks t ON t.message_row = m.id
       WHERE m.repo_id = ? AND m.raw_sha256 = ? ORDER BY t.id LIMIT 1`,
    )
    .get(mail.repoId, digest) as { id: number } | undefined;
  if (sameBytes) return sameBytes.id;

  // Same Message-ID already accepted: a second delivery (e.g. the sender's server retried).
  // Rejected rows don't count, so a spoof reusing a genuine Message-ID cannot block it.
  if (mail.verdict.action === 'accept' && mail.messageId) {
    const sameId = db
      .prepare(`SELECT id FROM tasks WHERE repo_id = ? AND message_id = ? AND status <> 'rejected' LIMIT 1`)
      .get(mail.repoId, mail.messageId) as { id: number } | undefined;
    if (sameId) return sameId.id;
  }
  return null;
}

/** What goes into `messages.raw`, and how the daily account of rejected mail changes. */
interface StoredBytes {
  readonly stored: 'whole' | 'headers' | 'none';
  readonly bytes: Buffer;
  readonly budgetSpent: boolean;
}

/**
 * Accepted mail is kept whole (the runner needs its body). A rejected mail is never run, so only
 * its header section is kept (what the dashboard and an investigation need), and only while the
 * day's budget for rejected mail lasts; after that, the task row alone (reason, sender, size, time).
 * Call inside the write transaction.
 */
function bytesToStore(db: Db, mail: IncomingMail, policy: RejectedMailPolicy, now: number): StoredBytes {
  if (mail.verdict.action === 'accept') return { stored: 'whole', bytes: Buffer.from(mail.raw), budgetSpent: false };
  const kept = rejectedStorage(mail.raw, rejectedBytesStoredOn(db, now), policy);
  if (kept.stored === 'headers') {
    noteRejectedHeadersStored(db, kept.bytes.byteLength, now);
    return { stored: 'headers', bytes: kept.bytes, budgetSpent: false };
  }
  return { stored: 'none', bytes: Buffer.alloc(0), budgetSpent: noteRejectedMetadataOnly(db, now) };
}

export function acceptMail(
  db: Db,
  mail: IncomingMail,
  now: number = Date.now(),
  policy: RejectedMailPolicy = DEFAULT_REJECTED_MAIL_POLICY,
): RecordedOutcome {
  // The dedupe key is taken from the mail as fetched, whatever is kept of it, so a re-fetch of a
  // rejected mail is still recognised.
  const digest = recordDigest(mail);
  return writeTransaction(db, () => {
    const earlier = earlierTask(db, mail, digest);
    if (earlier !== null) return { kind: 'duplicate', taskId: earlier };

    const kept = bytesToStore(db, mail, policy, now);
    const messageRow = db
      .prepare(
        `INSERT INTO messages (repo_id, raw_sha256, message_id, imap_uid, size, raw, stored, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(mail.repoId, digest, mail.messageId, mail.imapUid, mail.size ?? mail.raw.byteLength, kept.bytes, kept.stored, now)
      .lastInsertRowid;

    const v = mail.verdict;
    const taskId = db
      .prepare(
        `INSERT INTO tasks (repo_id, message_row, sender, source_ip, subject, message_id, status, reason, detail,
                            model_hint, thread_refs, created_at, finished_at, requested_repos)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        mail.repoId,
        messageRow,
        mail.sender,
        mail.sourceIp ?? null,
        mail.subject,
        mail.messageId,
        v.action === 'accept' ? 'queued' : 'rejected',
        v.action === 'reject' ? v.reason : null,
        v.action === 'reject' ? v.detail : null,
        v.action === 'accept' ? v.modelHint : null,
        JSON.stringify(mail.conversationCandidates),
        now,
        v.action === 'reject' ? now : null,
        requestedReposColumn(mail.requestedRepos),
      ).lastInsertRowid;
    if (mail.schedule) markScheduledTask(db, Number(taskId), mail.schedule.name, mail.schedule.effort);
    if (mail.api) markApiTask(db, Number(taskId), mail.repoId, v.action === 'accept', mail.api);

    if (kept.stored === 'whole') return { kind: 'queued', taskId: Number(taskId) };
    return { kind: 'rejected', taskId: Number(taskId), stored: kept.stored, budgetSpent: kept.budgetSpent };
  });
}
