/**
 * Sends the durable outbox (`outgoing_mail`). Mail is composed and stored by queue-reply.ts, in the
 * transaction that finishes its task; this loop only moves stored bytes to each repo's SMTP server
 * and records the outcome.
 *
 * Delivery is at least once. Each send is marked in the store (`sending_since`) before the first
 * byte goes out and cleared with its outcome. A process killed in between leaves the mark: after
 * the restart that mail is sent again with the same bytes and Message-ID (so mail clients fold the
 * copies) and logged as possibly duplicated. SMTP gives no way to ask whether the server kept a
 * message whose "250 OK" we never read, so this window cannot be closed, only made visible; see
 * docs/architecture.md. Nothing is ever dropped silently: a mail either reaches `sent` or ends as
 * `failed` with its reason logged and stored.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { createMailCredentials, type MailCredentials } from '../mail-account/credentials.ts';
import type { Db } from '../store/database.ts';
import {
  dueCount,
  duePendingMail,
  nextDueAt,
  makePendingDue,
  markAttemptFailed,
  markPermanentlyFailed,
  markSending,
  markSent,
  pendingSpoolPaths,
  type OutgoingMail,
} from '../store/outgoing-mail.ts';
import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import { removeSpoolFile, spoolDir, sweepSpool } from './spool.ts';

/** A spool file younger than this may belong to a task that has not committed its row yet. */
const SPOOL_SWEEP_MIN_AGE_MS = 10 * 60_000;
import { registerSecretValues, type Logger } from '../log/logger.ts';
import { loginSecretValues } from '../mail-account/credentials.ts';
import { INSECURE_TLS_WARNING } from '../mail-account/tls.ts';
import { describeTlsFailure, tlsFailureMessage, type MailEndpoint } from '../mail-account/tls-errors.ts';
import { createSmtpTransport, sendRaw, type SendOutcome, type SmtpTimeouts, type SmtpTransport } from './smtp-transport.ts';
import type { StorageHealth } from '../health/storage-faults.ts';

export interface OutgoingMailSenderOptions {
  /**
   * Shortest wait between two rounds when mail is due but could not be taken (it waits behind an
   * older mail of its conversation). Default 1000 ms.
   */
  readonly pollIntervalMs?: number;
  /**
   * Longest wait between two rounds. The loop sleeps until the next mail is due; whoever queues
   * mail kicks it, so this is only a safety net. Default 30 s.
   */
  readonly idlePollMs?: number;
  /** Mails read from the store per round. Default 50. */
  readonly batchSize?: number;
  /** First retry delay; doubles per attempt. Default 5000 ms. */
  readonly baseBackoffMs?: number;
  /** Longest retry delay. Default 15 min. */
  readonly maxBackoffMs?: number;
  /** Attempts after which a permanent (5xx) rejection is accepted as final. Default 3. */
  readonly maxPermanentAttempts?: number;
  /** A mail still undelivered this long after it was queued is given up. Default 3 days. */
  readonly maxPendingAgeMs?: number;
  readonly timeouts?: SmtpTimeouts;
  /** Clock and randomness, for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** For tests: build the transport of a repo. */
  readonly createTransport?: (repo: RepoServerConfig) => SmtpTransport;
  /** Where database errors of the outbox are reported for /health. */
  readonly storage?: StorageHealth;
}

export type FailureClass = 'temporary' | 'permanent';

export interface FailureDescription {
  readonly kind: FailureClass;
  /** One line, for the store and the log; never contains credentials. */
  readonly message: string;
}

// Errors that say nothing about the message itself: the server, the network or our account is
// unavailable right now. An AUTH failure (535) is a configuration problem of the repo, not of
// the mail, so it is retried until fixed rather than failing every reply on its way.
const TEMPORARY_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EAUTH', 'ENOAUTH', 'EPROTOCOL']);

/**
 * Whether an SMTP send error is worth retrying. With the repo's SMTP endpoint, a TLS failure
 * (unknown CA, wrong host name, no STARTTLS) is described as tls-errors.ts does everywhere, and is
 * temporary: it is the repo's configuration or the server that is wrong, never the mail, and
 * nothing was sent.
 */
export function classifySendError(err: unknown, endpoint?: MailEndpoint): FailureDescription {
  const tls = endpoint === undefined ? null : describeTlsFailure(err, endpoint);
  if (tls) return { kind: 'temporary', message: tlsFailureMessage(tls) };
  const e = (err ?? {}) as { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const text =
    typeof e.response === 'string' && e.response.length > 0
      ? e.response
      : typeof e.message === 'string'
        ? e.message
        : String(err);
  const message = [code, responseCode !== undefined && !text.startsWith(String(responseCode)) ? String(responseCode) : undefined, text]
    .filter((p) => p !== undefined && p !== '')
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  const permanent =
    responseCode !== undefined &&
    responseCode >= 500 &&
    responseCode < 600 &&
    responseCode !== 503 &&
    !(code !== undefined && TEMPORARY_CODES.has(code));
  return { kind: permanent ? 'permanent' : 'temporary', message };
}

/** Delay before attempt `attempts + 1`: base·2^(attempts−1), capped, ±20 % jitter. */
export function retryDelayMs(attempts: number, base: number, max: number, random: () => number): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/**
 * How long a sender loop sleeps after a round: until the next item is due (`nextDue()`, null when
 * nothing is pending), but at least pollIntervalMs and at most idlePollMs (a safety net: whoever
 * queues an item kicks the loop). A store error gives the short wait: the next round meets the
 * same error and reports it.
 */
export function sleepUntilDue(
  nextDue: () => number | null,
  o: { readonly pollIntervalMs: number; readonly idlePollMs: number; readonly now: () => number },
): number {
  let next: number | null;
  try {
    next = nextDue();
  } catch {
    return o.pollIntervalMs;
  }
  if (next === null) return o.idlePollMs;
  return Math.min(o.idlePollMs, Math.max(o.pollIntervalMs, next - o.now()));
}

export interface FlushResult {
  readonly sent: number;
  readonly failed: number;
  /** Still pending and due when the flush ended (not counting mail waiting for a later retry). */
  readonly remainingDue: number;
}

export class OutgoingMailSender {
  readonly #db: Db;
  #repos: Readonly<Record<string, RepoServerConfig>>;
  readonly #log: Logger;
  readonly #opts: Required<Omit<OutgoingMailSenderOptions, 'timeouts' | 'createTransport' | 'storage'>> & {
    timeouts: SmtpTimeouts;
    createTransport: (repo: RepoServerConfig) => SmtpTransport;
  };
  readonly #transports = new Map<string, SmtpTransport>();
  /** One per repo for the sender's lifetime, so an OAuth2 access token serves every send until it expires. */
  readonly #credentials = new Map<string, MailCredentials>();
  readonly #storage: StorageHealth | undefined;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #stopping: Promise<void> | null = null;
  /** The round in progress, if any; rounds never overlap. */
  #round: Promise<RoundResult> | null = null;
  #kicked = false;
  #startedOnce = false;

  constructor(
    db: Db,
    repos: Readonly<Record<string, RepoServerConfig>>,
    log: Logger,
    options: OutgoingMailSenderOptions = {},
  ) {
    this.#db = db;
    this.#repos = repos;
    this.#log = log;
    this.#storage = options.storage;
    const timeouts = options.timeouts ?? {};
    this.#opts = {
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      idlePollMs: options.idlePollMs ?? 30_000,
      batchSize: options.batchSize ?? 50,
      baseBackoffMs: options.baseBackoffMs ?? 5000,
      maxBackoffMs: options.maxBackoffMs ?? 15 * 60_000,
      maxPermanentAttempts: options.maxPermanentAttempts ?? 3,
      maxPendingAgeMs: options.maxPendingAgeMs ?? 3 * 24 * 3600_000,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
      timeouts,
      createTransport: options.createTransport ?? ((repo) => createSmtpTransport(repo, timeouts, this.#credentialsFor(repo), true, () => this.#connecting(repo))),
    };
    // Whoever loaded the configuration registers these too; doing it here keeps an SMTP error that
    // echoes a credential out of our log lines even when this class is used on its own.
    registerSecretValues(Object.values(repos).flatMap((r) => loginSecretValues(r.email.login)));
  }

  /**
   * Starts the loop. The first start makes all pending mail due now (a restart often follows a fix
   * of the SMTP settings). Calling it again while running does nothing.
   */
  start(): void {
    if (this.#running || this.#stopping) return;
    if (!this.#startedOnce) {
      this.#startedOnce = true;
      try {
        const n = makePendingDue(this.#db, this.#opts.now());
        if (n > 0) this.#log.info({ pending: n }, 'pending mail from before the start: trying it now');
        this.#sweepSpools().catch((err: unknown) => this.#log.warn({ err: errorSummary(err) }, 'could not sweep the mail spool directories'));
      } catch (err) {
        this.#log.error({ err: errorSummary(err) }, 'cannot read the outgoing mail at start-up; the loop retries');
      }
    }
    this.#running = true;
    this.#schedule(0);
  }

  /** Asks for a round now (after a mail was enqueued), instead of at the next tick. */
  kick(): void {
    if (!this.#running) return;
    if (this.#round) {
      this.#kicked = true;
      return;
    }
    this.#schedule(0);
  }

  /**
   * A configuration reload: later sends use `repos`. The repositories in `changed` (SMTP account
   * changed, or removed) lose their connection and credentials, so the next send logs in anew;
   * a send on the old connection that fails now is retried like any temporary failure.
   */
  setRepos(repos: Readonly<Record<string, RepoServerConfig>>, changed: readonly string[]): void {
    this.#repos = repos;
    registerSecretValues(Object.values(repos).flatMap((r) => loginSecretValues(r.email.login)));
    for (const id of changed) {
      this.#dropTransport(id);
      this.#credentials.delete(id);
    }
  }

  /**
   * Stops the loop: the round in progress finishes (a mail being sent is not cut off), no new
   * round starts, and the transports are closed. Safe to call more than once.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#running = false;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      if (this.#round) await this.#round.catch(() => undefined);
      for (const t of this.#transports.values()) t.close();
      this.#transports.clear();
    })();
    return this.#stopping;
  }

  /**
   * Sends everything that is due now, for shutdown. Rounds run until nothing due is left (a mail
   * that fails again is rescheduled, so it is no longer due) or `timeoutMs` passes. Works whether
   * or not the loop runs, but not after `stop()`.
   */
  async flush(timeoutMs: number): Promise<FlushResult> {
    const deadline = Date.now() + Math.max(0, timeoutMs);
    let sent = 0;
    let failed = 0;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || this.#stopping) break;
      const result = await raceTimeout(this.#runRound(), left);
      if (result === null) break;
      sent += result.sent;
      failed += result.failed;
      if (result.attempted === 0) break;
    }
    const remainingDue = dueCount(this.#db, this.#opts.now());
    return { sent, failed, remainingDue };
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tick();
    }, delayMs);
  }

  async #tick(): Promise<void> {
    if (!this.#running) return;
    let result: RoundResult | null = null;
    try {
      result = await this.#runRound();
    } catch (err) {
      // A store error (disk full, locked database) must not end the loop; the next tick retries.
      this.#storage?.report(err, 'write');
      this.#log.error({ err: errorSummary(err) }, 'outgoing mail round failed');
    }
    // A round that recorded outcomes has written to the database.
    if (result !== null && result.attempted > 0) this.#storage?.clear('database', ['write']);
    if (!this.#running) return;
    // A full batch or a kick during the round means more may be due right away.
    const more = this.#kicked || (result !== null && result.attempted >= this.#opts.batchSize);
    this.#kicked = false;
    this.#schedule(more ? 0 : this.#untilNextDue());
  }

  /**
   * How long to sleep after a round. An idle daemon with a hundred repositories used to read the
   * outbox every second for nothing; now it wakes when a mail is queued (kick) or due.
   */
  #untilNextDue(): number {
    return sleepUntilDue(() => nextDueAt(this.#db), this.#opts);
  }

  /** One round; if one is already running, waits for it and runs another (callers want fresh state). */
  async #runRound(): Promise<RoundResult> {
    while (this.#round) await this.#round.catch(() => undefined);
    const round = this.#sendDue();
    this.#round = round;
    try {
      return await round;
    } finally {
      if (this.#round === round) this.#round = null;
    }
  }

  async #sendDue(): Promise<RoundResult> {
    const due = duePendingMail(this.#db, this.#opts.now(), this.#opts.batchSize);
    if (due.length === 0) return { attempted: 0, sent: 0, failed: 0 };
    // Repos are independent (their own servers): one slow server must not hold up the others.
    // Within a repo mails go one at a time, oldest first; the query already returns at most one
    // mail per conversation, so conversation order holds.
    const byRepo = new Map<string, OutgoingMail[]>();
    for (const m of due) {
      const list = byRepo.get(m.repoId) ?? [];
      list.push(m);
      byRepo.set(m.repoId, list);
    }
    const results = await Promise.all(
      [...byRepo.entries()].map(async ([repoId, mails]) => {
        let sent = 0;
        let failed = 0;
        for (const mail of mails) {
          // Stopping lets the mail in flight finish but starts no new one.
          if (this.#stopping) break;
          const outcome = await this.#sendOne(repoId, mail);
          if (outcome === 'sent') sent++;
          else if (outcome === 'failed') failed++;
        }
        return { sent, failed, attempted: mails.length };
      }),
    );
    return results.reduce(
      (a, r) => ({ attempted: a.attempted + r.attempted, sent: a.sent + r.sent, failed: a.failed + r.failed }),
      { attempted: 0, sent: 0, failed: 0 },
    );
  }

  #credentialsFor(repo: RepoServerConfig): MailCredentials {
    let c = this.#credentials.get(repo.repoId);
    if (!c) {
      c = createMailCredentials(repo.email.username, repo.email.login);
      this.#credentials.set(repo.repoId, c);
    }
    return c;
  }

  #transportFor(repo: RepoServerConfig): SmtpTransport {
    let t = this.#transports.get(repo.repoId);
    if (!t) {
      t = this.#opts.createTransport(repo);
      this.#transports.set(repo.repoId, t);
    }
    return t;
  }

  /** Each new SMTP connection of a repository's pool, as the listener does for IMAP. */
  #connecting(repo: RepoServerConfig): void {
    if (repo.email.tls.insecureSkipVerify && repo.email.smtpSecurity !== 'none') this.#log.warn({ repo: repo.repoId, host: repo.email.smtpServer }, INSECURE_TLS_WARNING);
  }

  /** Closes a repository's pool (its connections QUIT); the next send opens a new one. */
  #dropTransport(repoId: string): void {
    this.#transports.get(repoId)?.close();
    this.#transports.delete(repoId);
  }

  async #sendOver(repo: RepoServerConfig, mail: OutgoingMail, message: Buffer | Readable): Promise<SendOutcome> {
    try {
      return await sendRaw(this.#transportFor(repo), { from: repo.email.fromAddress, to: mail.recipient }, message);
    } finally {
      // A send that failed before reading the whole file must not leave its descriptor open.
      if (!Buffer.isBuffer(message)) message.destroy();
    }
  }

  async #sendOne(repoId: string, mail: OutgoingMail): Promise<'sent' | 'retry' | 'failed'> {
    const log = this.#log.child({
      repo: repoId,
      task: mail.taskId,
      conversation: mail.conversationId,
      mail: mail.id,
      kind: mail.kind,
    });
    const repo = this.#repos[repoId];
    if (repo === undefined) {
      // The repo left the configuration while its mail waited. Keep the mail (the repo may come
      // back after a configuration fix) until it is too old.
      return this.#recordFailure(log, mail, {
        kind: 'temporary',
        message: `repo ${repoId} is not in the configuration; cannot send`,
      });
    }
    if (mail.sendingSince !== null) {
      log.warn(
        { recipient: mail.recipient, messageId: mail.messageId, sendingSince: mail.sendingSince },
        'this mail was being sent when the previous process stopped; the server may already have it, so the recipient may get it twice (same Message-ID)',
      );
    }
    const started = Date.now();
    const message = await openMessage(mail);
    if (typeof message === 'string') return this.#giveUp(log, mail, message);
    // Its own commit before the send: a crash during the SMTP dialogue must leave a trace.
    markSending(this.#db, mail.id, this.#opts.now());
    let outcome = await this.#sendOver(repo, mail, message);
    if (!outcome.ok && retryAtOnce(outcome)) {
      log.info(
        { recipient: mail.recipient, messageId: mail.messageId, error: classifySendError(outcome.error).message },
        'the SMTP connection broke before the message was sent; sending it again at once on a new connection',
      );
      // A new pool: another connection the old one held may be just as stale.
      this.#dropTransport(repoId);
      const again = await openMessage(mail);
      if (typeof again === 'string') return this.#giveUp(log, mail, again);
      outcome = await this.#sendOver(repo, mail, again);
    }
    if (!outcome.ok) return this.#recordFailure(log, mail, classifySendError(outcome.error, smtpEndpoint(repo)));
    const response = outcome.info.response;
    // Outside the try: a store error here must not be mistaken for a failed send. The mail then
    // stays pending and goes out again (at least once, never zero times).
    markSent(this.#db, mail.id, this.#opts.now());
    this.#dropSpool(log, mail);
    log.info(
      { recipient: mail.recipient, messageId: mail.messageId, attempts: mail.attempts + 1, ms: Date.now() - started, response },
      'mail sent',
    );
    return 'sent';
  }

  #giveUp(log: Logger, mail: OutgoingMail, reason: string, fields: Record<string, unknown> = {}): 'failed' {
    markPermanentlyFailed(this.#db, mail.id, reason);
    this.#dropSpool(log, mail);
    log.error({ recipient: mail.recipient, messageId: mail.messageId, error: reason, ...fields }, 'mail could not be delivered; giving up');
    return 'failed';
  }

  /** A sent or abandoned mail's spool file is not needed again. */
  #dropSpool(log: Logger, mail: OutgoingMail): void {
    if (mail.rawPath === null) return;
    removeSpoolFile(mail.rawPath).catch((err: Error) => log.warn({ err: err.message, file: mail.rawPath }, 'could not remove a spool file; the start-up sweep will'));
  }

  /** Removes spool files of every repo that no pending mail needs (left by a crash before their row was committed). */
  async #sweepSpools(): Promise<void> {
    const keep = pendingSpoolPaths(this.#db);
    for (const repo of Object.values(this.#repos)) {
      const removed = await sweepSpool(spoolDir(repo.storageDir), keep, SPOOL_SWEEP_MIN_AGE_MS, this.#opts.now());
      if (removed > 0) this.#log.info({ repo: repo.repoId, removed }, 'removed spool files no pending mail needs');
    }
  }

  #recordFailure(log: Logger, mail: OutgoingMail, failure: FailureDescription): 'retry' | 'failed' {
    const now = this.#opts.now();
    const attempts = mail.attempts + 1;
    const tooOld = now - mail.createdAt >= this.#opts.maxPendingAgeMs;
    const givesUp = (failure.kind === 'permanent' && attempts >= this.#opts.maxPermanentAttempts) || tooOld;
    const fields = { recipient: mail.recipient, messageId: mail.messageId, attempts, error: failure.message };
    if (givesUp) {
      const reason = tooOld && failure.kind !== 'permanent' ? `gave up after ${attempts} attempts: ${failure.message}` : failure.message;
      return this.#giveUp(log, mail, reason, fields);
    }
    const delay = retryDelayMs(attempts, this.#opts.baseBackoffMs, this.#opts.maxBackoffMs, this.#opts.random);
    markAttemptFailed(this.#db, mail.id, failure.message, now + delay);
    log.warn({ ...fields, failure: failure.kind, retryInMs: delay }, 'mail not sent; will retry');
    return 'retry';
  }
}

function smtpEndpoint(repo: RepoServerConfig): MailEndpoint {
  const e = repo.email;
  return { protocol: 'SMTP', configPath: `repos.${repo.repoId}.email`, host: e.smtpServer, port: e.smtpPort, security: e.smtpSecurity };
}

/**
 * Whether a failed send goes out again at once, on a new connection, instead of waiting for the
 * outbox's backoff. Both must hold:
 *  - the connection failed, not the message: the socket closed or broke (ECONNECTION, ESOCKET) or
 *    the server said 421 (it is closing the channel). A reply about this message (4xx, 5xx to
 *    MAIL FROM, RCPT TO or DATA) is the server's answer and would be the same again. A timeout is
 *    left to the backoff too: a dead network path would only make the send wait twice as long.
 *  - the message body had not started (sendRaw's bodyStarted). A server can only accept a message
 *    after the "." that ends it, which follows the body; so it cannot have this one, and sending
 *    it again cannot deliver it twice. Once the body started, even a broken connection may have
 *    hidden a "250 OK" (the at-least-once window described at the top), and the backoff decides.
 * The usual case: a pooled connection the server closed while idle, noticed at MAIL FROM.
 */
export function retryAtOnce(outcome: SendOutcome): boolean {
  if (outcome.ok || outcome.bodyStarted) return false;
  const e = (outcome.error ?? {}) as { code?: unknown; responseCode?: unknown };
  return e.responseCode === 421 || e.code === 'ECONNECTION' || e.code === 'ESOCKET';
}

/** The stored message, from memory or its spool file, or why it cannot be sent. */
async function openMessage(mail: OutgoingMail): Promise<Buffer | Readable | string> {
  // Streamed from its spool file: a reply with attachments is never held in memory whole.
  return mail.rawPath === null ? mail.raw : openSpool(mail.rawPath);
}

/** The spool file as a stream, or why it cannot be sent (a file that is gone will not come back). */
async function openSpool(file: string): Promise<Readable | string> {
  try {
    const fh = await fs.open(file, 'r');
    return fh.createReadStream();
  } catch (err) {
    return `the message file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}); it was removed or the disk failed`;
  }
}

interface RoundResult {
  readonly attempted: number;
  readonly sent: number;
  readonly failed: number;
}

function errorSummary(err: unknown): { message: string; code?: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { message: err.message, code } : { message: err.message };
  }
  return { message: String(err) };
}

async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
