/**
 * What happens to one fetched message inside a repo's listener thread: parse it, screen it
 * (loop protection, DMARC, allowlist), and hand it to the supervisor for durable acceptance.
 * Returns true once the supervisor has recorded it (accepted, rejected or duplicate), which is
 * what allows the listener to remove it from the server.
 */
import type { RepoServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { IncomingMail, MailVerdict, AcceptOutcome } from '../store/accept.ts';
import { parseMessage } from '../email/parse.ts';
import { screenMessage } from '../email/screen.ts';
import { conversationIdCandidates } from '../email/threading.ts';

export type AcceptFn = (mail: IncomingMail) => Promise<AcceptOutcome>;

export async function intakeMessage(
  raw: Buffer,
  uid: number,
  repo: RepoServerConfig,
  accept: AcceptFn,
  log: Logger,
): Promise<boolean> {
  const parsed = await parseMessage(raw);
  const screened = screenMessage(parsed, {
    fromAddress: repo.email.fromAddress,
    trustedAuthservId: repo.trustedAuthservId,
    authorizedSenders: repo.authorizedSenders,
  });
  const verdict: MailVerdict =
    screened.action === 'accept'
      ? { action: 'accept', modelHint: screened.modelHint }
      : { action: 'reject', reason: screened.reason, detail: screened.detail };
  const mail: IncomingMail = {
    repoId: repo.repoId,
    // A private copy: imapflow's buffer may share a larger pool, and it crosses a thread.
    raw: new Uint8Array(raw),
    imapUid: uid,
    messageId: parsed.messageId,
    subject: parsed.subject,
    sender: screened.sender,
    conversationCandidates: conversationIdCandidates(parsed).map((c) => c.conversationId),
    verdict,
  };
  const outcome = await accept(mail);
  const fields = { uid, task: outcome.taskId, sender: screened.sender, messageId: parsed.messageId };
  if (outcome.kind === 'rejected' && verdict.action === 'reject') {
    log.warn({ ...fields, reason: verdict.reason, detail: verdict.detail }, 'mail rejected');
  } else if (outcome.kind === 'duplicate') {
    log.info(fields, 'mail already recorded; removing the copy from the server');
  } else {
    log.info(fields, 'mail accepted');
  }
  return true;
}
