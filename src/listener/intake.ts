/**
 * What happens to one fetched message inside a repo's listener thread: parse it, screen it
 * (loop protection, DMARC, allowlist), check its size and attachments against the repo's limits,
 * and hand it to the supervisor for durable acceptance. Returns true once the supervisor has
 * recorded it (accepted, rejected or duplicate), which is what allows the listener to remove it
 * from the server.
 */
import type { RepoServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { IncomingMail, MailVerdict, AcceptOutcome } from '../store/accept.ts';
import { parseMessage } from '../email/parse.ts';
import { screenMessage } from '../email/screen.ts';
import { conversationIdCandidates } from '../email/threading.ts';
import { checkMessageLimits } from '../limits/message-limits.ts';
import { explainLimitViolation } from '../limits/explain.ts';

export type AcceptFn = (mail: IncomingMail) => Promise<AcceptOutcome>;

/** How the listener fetched the message. */
export interface FetchedAs {
  /** RFC822.SIZE as the server reported it (0 when unknown). */
  readonly size: number;
  /** Only the header section was downloaded (the mail is over `max_message_bytes`). */
  readonly headersOnly: boolean;
}

export async function intakeMessage(
  raw: Buffer,
  uid: number,
  repo: RepoServerConfig,
  accept: AcceptFn,
  log: Logger,
  fetched: FetchedAs = { size: raw.byteLength, headersOnly: false },
): Promise<boolean> {
  // A server may under-report; the bytes we hold are the truth when we hold them all.
  const size = fetched.headersOnly ? fetched.size : Math.max(fetched.size, raw.byteLength);
  const parsed = await parseMessage(raw);
  const screened = screenMessage(parsed, {
    fromAddress: repo.email.fromAddress,
    trustedAuthservId: repo.trustedAuthservId,
    authorizedSenders: repo.authorizedSenders,
  });
  let verdict: MailVerdict;
  if (screened.action === 'accept') {
    // Limits are checked only for senders who passed: the others are refused (and never
    // answered) whatever their size.
    const violation = checkMessageLimits(
      { size, headersOnly: fetched.headersOnly, attachments: parsed.attachments, structureLimit: parsed.structureLimit },
      repo.limits,
    );
    verdict = violation
      ? { action: 'reject', reason: 'too_large', detail: explainLimitViolation(violation).detail, limit: violation }
      : { action: 'accept', modelHint: screened.modelHint };
  } else {
    verdict = { action: 'reject', reason: screened.reason, detail: screened.detail };
  }
  const mail: IncomingMail = {
    repoId: repo.repoId,
    // A private copy: imapflow's buffer may share a larger pool, and it crosses a thread.
    raw: new Uint8Array(raw),
    size,
    headersOnly: fetched.headersOnly,
    imapUid: uid,
    messageId: parsed.messageId,
    subject: parsed.subject,
    sender: screened.sender,
    references: parsed.references,
    conversationCandidates: conversationIdCandidates(parsed).map((c) => c.conversationId),
    verdict,
  };
  const outcome = await accept(mail);
  const fields = { uid, task: outcome.taskId, sender: screened.sender, messageId: parsed.messageId, size };
  if (outcome.kind === 'duplicate') {
    log.info(fields, 'mail already recorded; removing the copy from the server');
  } else if (verdict.action === 'reject') {
    log.warn({ ...fields, reason: verdict.reason, detail: verdict.detail }, 'mail rejected');
  } else if (outcome.kind === 'rejected') {
    // Screened as acceptable, refused by the supervisor (a rate limit); it logged why.
    log.warn(fields, 'mail rejected by the supervisor');
  } else {
    log.info(fields, 'mail accepted');
  }
  return true;
}
