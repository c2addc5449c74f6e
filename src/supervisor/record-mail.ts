/**
 * What the supervisor does with a mail a repo listener hands it: apply the repo's rate limits and
 * spending caps, record it (src/store/accept.ts), and — for a mail refused by a limit from an authorized
 * sender — queue the one reply that explains the limit, in the same transaction as the record.
 * Mail the screen refused, from a source over `rejected_mail.per_source_per_hour`, is only
 * counted (src/store/rejected-mail.ts): nothing of it is stored and it is never answered.
 * A task submitted over the API (src/dashboard/routes/submit.ts) is recorded the same way, but a
 * limit refusal is answered in the HTTP response, never by mail.
 *
 * Rate checks and the record are not one transaction when a reply is composed (composing is
 * asynchronous), which is safe because each repo has exactly one listener, whose calls come one
 * after another.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { explainLimitViolation, explainRateLimit } from '../limits/explain.ts';
import { explainSpendCap } from '../limits/explain-spend.ts';
import { findSpendCapHit, hasSpendCaps, SPEND_NOTICE_INTERVAL_MS } from '../limits/spend-caps.ts';
import { inboundMailOf } from '../reply/inbound-mail.ts';
import { queueReply, type QueueDecision, type ReplyRequest } from '../reply/queue-reply.ts';
import { isScreenedOut, type RejectedMailPolicy } from '../limits/rejected-mail.ts';
import {
  acceptMail,
  DEFAULT_REJECTED_MAIL_POLICY,
  findRecordedMail,
} from '../store/accept.ts';
import type { AcceptOutcome, IncomingMail, MailVerdict } from '../protocol/incoming-mail.ts';
import { writeTransaction, type Db } from '../store/database.ts';
import { firstKnownConversation } from '../store/conversations.ts';
import { findRateLimitHit, mayNotifyLimit, mayNotifyRateLimit, noteLimitNotice, rejectedSourceOverLimit } from '../store/rate-limit.ts';
import { spendFigures } from '../store/spend.ts';
import { noteRejectedDropped } from '../store/rejected-mail.ts';

export type RecordOutcome = AcceptOutcome & {
  /** A reply explaining a limit was queued with the record. */
  readonly replyQueued: boolean;
  /** The verdict that was recorded (a rate limit may have turned an accepted mail into a refusal). */
  readonly verdict: MailVerdict;
};

interface PlannedReply {
  readonly message: string;
  /** Set for rate-limit and spend-cap replies, which are sent at most once per sender per interval. */
  readonly notice: 'rate_limited' | 'spend_capped' | null;
}

/** Mail that is answered: accepted, or refused for its size (the sender passed DMARC and the allowlist). */
function isAnswerable(v: MailVerdict): boolean {
  return v.action === 'accept' || (v.action === 'reject' && v.reason === 'too_large');
}

/** What recording a mail will do, decided from the database before anything is written. */
type RecordPlan =
  | { readonly kind: 'duplicate'; readonly taskId: number }
  /** Refused by the screen, from a source over `per_source_per_hour`: counted, not stored, not answered. */
  | { readonly kind: 'dropped' }
  | { readonly kind: 'new'; readonly verdict: MailVerdict; readonly reply: PlannedReply | null };

function planRecord(db: Db, repo: RepoServerConfig, mail: IncomingMail, now: number, policy: RejectedMailPolicy): RecordPlan {
  const earlier = findRecordedMail(db, mail);
  if (earlier !== null) return { kind: 'duplicate', taskId: earlier };
  const v = mail.verdict;
  if (v.action === 'reject' && isScreenedOut(v.reason)) {
    const source = { sender: mail.sender, ip: mail.sourceIp ?? null };
    if (rejectedSourceOverLimit(db, source, policy.perSourcePerHour, now) !== null) return { kind: 'dropped' };
  }
  const sender = mail.sender;
  if (sender === null || !isAnswerable(mail.verdict)) return { kind: 'new', verdict: mail.verdict, reply: null };
  const hit = findRateLimitHit(db, repo.repoId, sender, repo.limits, now);
  if (hit) {
    const text = explainRateLimit(hit, now);
    const reply = mayNotifyRateLimit(db, repo.repoId, sender, now) ? { message: text.message, notice: 'rate_limited' as const } : null;
    return { kind: 'new', verdict: { action: 'reject', reason: 'rate_limited', detail: text.detail }, reply };
  }
  if (mail.verdict.action === 'accept') {
    const capped = spendCapPlan(db, repo, sender, now);
    if (capped) return capped;
  }
  if (mail.verdict.action === 'reject' && mail.verdict.limit) {
    return { kind: 'new', verdict: mail.verdict, reply: { message: explainLimitViolation(mail.verdict.limit).message, notice: null } };
  }
  return { kind: 'new', verdict: mail.verdict, reply: null };
}

/**
 * A mail whose task would go over a spending cap: recorded as refused, answered at most once per
 * sender per SPEND_NOTICE_INTERVAL_MS. The task's budget is the server's for the repository; the
 * repository's own file may lower it at run time, never raise it, so this errs on the safe side.
 */
function spendCapPlan(db: Db, repo: RepoServerConfig, sender: string, now: number): RecordPlan | null {
  if (!hasSpendCaps(repo.budget)) return null;
  const budget = repo.budget.taskUsd;
  const hit = findSpendCapHit(spendFigures(db, repo.repoId, sender, now, budget ?? 0), repo.budget, budget, now);
  if (!hit) return null;
  const text = explainSpendCap(hit);
  const notify = mayNotifyLimit(db, repo.repoId, sender, 'spend_capped', SPEND_NOTICE_INTERVAL_MS, now);
  return {
    kind: 'new',
    verdict: { action: 'reject', reason: 'spend_capped', detail: text.detail },
    reply: notify ? { message: text.message, notice: 'spend_capped' } : null,
  };
}

/** Writes a dropped mail's count (inside the caller's transaction). */
function recordDropped(db: Db, mail: IncomingMail, now: number): RecordOutcome {
  return { kind: 'dropped', firstOfDay: noteRejectedDropped(db, now), replyQueued: false, verdict: mail.verdict };
}

export async function recordMail(
  db: Db,
  repo: RepoServerConfig,
  incoming: IncomingMail,
  now: number = Date.now(),
  policy: RejectedMailPolicy = DEFAULT_REJECTED_MAIL_POLICY,
): Promise<RecordOutcome> {
  const mail: IncomingMail = { ...incoming, repoId: repo.repoId };
  const plan = planRecord(db, repo, mail, now, policy);
  if (plan.kind === 'duplicate') return { kind: 'duplicate', taskId: plan.taskId, replyQueued: false, verdict: mail.verdict };
  if (plan.kind === 'dropped') return writeTransaction(db, () => recordDropped(db, mail, now));
  const { verdict } = plan;
  // A task submitted over the API is refused in the HTTP answer (429); no limit notice is mailed.
  const reply = mail.api ? null : plan.reply;
  const sender = mail.sender;

  if (!reply || !sender) return writeTransaction(db, () => ({ ...acceptMail(db, { ...mail, verdict }, now, policy), replyQueued: false, verdict }));

  const request: ReplyRequest = {
    inReplyTo: inboundMailOf(sender, mail),
    // Filed under no conversation, but tagged with the one the mail belongs to, so it stays in its thread.
    conversationId: null,
    threadConversationId: firstKnownConversation(db, repo.repoId, mail.conversationCandidates),
    body: { kind: 'error', message: reply.message },
    now,
  };
  const { value } = await queueReply(db, repo, request, (): QueueDecision<RecordOutcome> => {
    const outcome = acceptMail(db, { ...mail, verdict }, now, policy);
    if (outcome.kind === 'duplicate') return { queue: false, value: { ...outcome, replyQueued: false, verdict } };
    if (reply.notice) noteLimitNotice(db, repo.repoId, sender, reply.notice, now);
    return { queue: true, taskId: outcome.taskId, value: { ...outcome, replyQueued: true, verdict } };
  });
  return value;
}

/**
 * Records several mails of one repo, in order, with the same result as `recordMail` one after the
 * other. The mails that need no reply (nearly all) are planned and written in one transaction:
 * each sees the rows of the ones before it, so rate limits count them, and one commit (one fsync)
 * serves the run. A mail whose reply must be composed first (asynchronously) ends the run and is
 * recorded on its own with its reply, as `recordMail` does.
 */
export async function recordMails(
  db: Db,
  repo: RepoServerConfig,
  incoming: readonly IncomingMail[],
  now: number = Date.now(),
  policy: RejectedMailPolicy = DEFAULT_REJECTED_MAIL_POLICY,
): Promise<RecordOutcome[]> {
  const out: RecordOutcome[] = [];
  let next = 0;
  while (next < incoming.length) {
    const run = writeTransaction(db, () => {
      const done: RecordOutcome[] = [];
      for (let i = next; i < incoming.length; i++) {
        const mail: IncomingMail = { ...incoming[i]!, repoId: repo.repoId };
        const plan = planRecord(db, repo, mail, now, policy);
        if (plan.kind === 'duplicate') {
          done.push({ kind: 'duplicate', taskId: plan.taskId, replyQueued: false, verdict: mail.verdict });
          continue;
        }
        if (plan.kind === 'dropped') {
          done.push(recordDropped(db, mail, now));
          continue;
        }
        if (plan.reply) break;
        done.push({ ...acceptMail(db, { ...mail, verdict: plan.verdict }, now, policy), replyQueued: false, verdict: plan.verdict });
      }
      return done;
    });
    // Only after the commit: a rolled-back run records nothing and throws.
    out.push(...run);
    next += run.length;
    if (next < incoming.length) out.push(await recordMail(db, repo, incoming[next++]!, now, policy));
  }
  return out;
}
