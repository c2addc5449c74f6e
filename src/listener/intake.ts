/**
 * What happens to one fetched message inside a repo's listener thread: parse it, screen it
 * (loop protection, DMARC, allowlist), check its size and attachments against the repo's limits,
 * and hand it to the supervisor for durable acceptance, a backlog in batches.
 */
import type { LineLog } from '../log/line-logger.ts';
import type { AcceptOutcome, IncomingMail, MailVerdict } from '../protocol/incoming-mail.ts';
import { connectingIp } from '../email/connecting-ip.ts';
import { outlineMessage } from '../email/outline.ts';
import { screenMessage } from '../email/screen.ts';
import { conversationIdCandidates } from '../email/threading.ts';
import { checkMessageLimits } from '../limits/message-limits.ts';
import { explainLimitViolation } from '../limits/explain.ts';
import type { ListenerConfig } from '../protocol/listener.ts';

/** What intake reads of the listener's configuration: whose mail it is and the rules it must pass. */
export type IntakeRules = Pick<ListenerConfig, 'repoId' | 'screening' | 'limits'>;

/** Records mails in order; one outcome per mail (SupervisorApi.acceptBatch). */
export type AcceptBatchFn = (mails: IncomingMail[]) => Promise<AcceptOutcome[]>;

/** How the listener fetched the message. */
export interface FetchedAs {
  /** RFC822.SIZE as the server reported it (0 when unknown). */
  readonly size: number;
  /** Only the header section was downloaded (the mail is over `max_message_bytes`). */
  readonly headersOnly: boolean;
}

export interface FetchedMail {
  readonly uid: number;
  readonly raw: Buffer;
  readonly info: FetchedAs;
}

/** Most mails sent to the supervisor in one call while a backlog is taken in. */
export const MAX_ACCEPT_BATCH = 50;

interface PreparedMail {
  readonly uid: number;
  readonly mail: IncomingMail;
}

/** Parses, screens and checks one message: what the supervisor is asked to record. */
export async function prepareMail(raw: Buffer, uid: number, rules: IntakeRules, fetched: FetchedAs = { size: raw.byteLength, headersOnly: false }): Promise<IncomingMail> {
  // A server may under-report; the bytes we hold are the truth when we hold them all.
  const size = fetched.headersOnly ? fetched.size : Math.max(fetched.size, raw.byteLength);
  const parsed = await outlineMessage(raw);
  const screened = screenMessage(parsed, rules.screening);
  let verdict: MailVerdict;
  if (screened.action === 'accept') {
    // Limits are checked only for senders who passed: the others are refused (and never
    // answered) whatever their size.
    const violation = checkMessageLimits(
      { size, headersOnly: fetched.headersOnly, attachments: parsed.attachments, structureLimit: parsed.structureLimit },
      rules.limits,
    );
    verdict = violation
      ? { action: 'reject', reason: 'too_large', detail: explainLimitViolation(violation).detail, limit: violation }
      : { action: 'accept', modelHint: screened.modelHint };
  } else {
    verdict = { action: 'reject', reason: screened.reason, detail: screened.detail };
  }
  return {
    repoId: rules.repoId,
    // A private copy: imapflow's buffer may share a larger pool, and it crosses a thread.
    raw: new Uint8Array(raw),
    size,
    headersOnly: fetched.headersOnly,
    imapUid: uid,
    messageId: parsed.messageId,
    subject: parsed.subject,
    sender: screened.sender,
    sourceIp: connectingIp(parsed.headerLines, rules.screening.trustedAuthservId),
    references: parsed.references,
    conversationCandidates: conversationIdCandidates(parsed).map((c) => c.conversationId),
    verdict,
  };
}

function logOutcome(log: LineLog, uid: number, mail: IncomingMail, outcome: AcceptOutcome): void {
  const { verdict } = mail;
  if (outcome.kind === 'dropped') {
    const reason = verdict.action === 'reject' ? verdict.reason : null;
    // debug, not warn: one line per mail of a flood would only move the disk filling to the log.
    log.debug(
      { uid, sender: mail.sender, sourceIp: mail.sourceIp ?? null, reason, size: mail.size },
      'mail rejected; its source is over rejected_mail.per_source_per_hour, so it is counted, not stored; removing it from the server',
    );
    return;
  }
  const fields = { uid, task: outcome.taskId, sender: mail.sender, messageId: mail.messageId, size: mail.size };
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
}

/**
 * Takes in fetched messages, in order, and calls `recorded(uid)` for each once the supervisor has
 * recorded it (accepted, rejected or duplicate), which is what allows the listener to remove it
 * from the server. Throws when a record fails; the messages recorded before stay recorded.
 *
 * Parsing and recording overlap: while the supervisor commits one batch, this thread parses the
 * next. A batch leaves as soon as the previous one is answered (so a mail that arrives alone is
 * sent alone, without waiting) or when it holds MAX_ACCEPT_BATCH mails.
 */
export async function intakeMessages(
  messages: Iterable<FetchedMail>,
  rules: IntakeRules,
  acceptBatch: AcceptBatchFn,
  log: LineLog,
  recorded: (uid: number) => void,
  stopped: () => boolean = () => false,
): Promise<void> {
  let pending: PreparedMail[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  let idle = true;
  const send = async (): Promise<void> => {
    await inFlight; // keeps the order, and rethrows a failed batch before more is sent
    if (stopped()) return; // what is not sent stays on the server for the next start
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    idle = false;
    inFlight = acceptBatch(batch.map((p) => p.mail))
      .then((outcomes) => {
        if (outcomes.length !== batch.length) throw new Error(`internal: ${outcomes.length} outcomes for ${batch.length} mails`);
        batch.forEach((p, i) => {
          logOutcome(log, p.uid, p.mail, outcomes[i]!);
          recorded(p.uid);
        });
      })
      .finally(() => {
        idle = true;
      });
    // Awaited by the next send() or at the end; this only keeps an early failure from being reported as unhandled.
    inFlight.catch(() => {});
  };
  for (const m of messages) {
    if (stopped()) break;
    pending.push({ uid: m.uid, mail: await prepareMail(m.raw, m.uid, rules, m.info) });
    if (idle || pending.length >= MAX_ACCEPT_BATCH) await send();
  }
  await send();
  await inFlight;
}

/** One message on its own (tests, tools): true once recorded. */
export async function intakeMessage(
  raw: Buffer,
  uid: number,
  rules: IntakeRules,
  acceptBatch: AcceptBatchFn,
  log: LineLog,
  fetched: FetchedAs = { size: raw.byteLength, headersOnly: false },
): Promise<boolean> {
  let done = false;
  await intakeMessages([{ uid, raw, info: fetched }], rules, acceptBatch, log, () => {
    done = true;
  });
  return done;
}
