/**
 * One repository's inbox: connect, process everything waiting, then wait for more (IDLE when the
 * server supports it and the config asks for it, else polling), reconnect with backoff when the
 * connection drops. Real providers drop IDLE silently, so while idling the inbox is still searched
 * every poll interval, IDLE is re-issued every refresh interval, and the connection is replaced by
 * a fresh login every reconnect interval. Knows IMAP only; what a message means is the
 * `onMessage` callback's business.
 *
 * The inbox is dedicated to the repository (see docs/email-setup.md): every message in it that is
 * not flagged \Deleted is work. A message is removed from the server only after `onMessage`
 * returned true, i.e. after the supervisor recorded it durably. A crash before that leaves it on
 * the server, and it is fetched again on the next connection (acceptance is idempotent).
 *
 * Sizes are asked for before bodies: a message over `maxMessageBytes` is downloaded as its header
 * section only (and recorded so), and the rest in groups of bounded size (see fetch-plan.ts).
 */
import { ImapFlow } from 'imapflow';
import type { LineLog } from '../log/line-logger.ts';
import type { ConnectionSecurity, MailLogin, MailTlsConfig } from '../config/types.ts';
import { createMailCredentials, type MailAuth, type MailCredentials } from '../mail-account/credentials.ts';
import { INSECURE_TLS_WARNING } from '../mail-account/tls.ts';
import { describeTlsFailure, tlsFailureMessage, type MailEndpoint } from '../mail-account/tls-errors.ts';
import type { ListenerState, ListenerStatus } from '../protocol/listener-status.ts';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from '../threads/backoff.ts';
import { imapSecurityOptions } from './imap-security.ts';
import { classifyLoginFailure, isLoginRefusal } from './login-failure.ts';
import { WakeSignal, sleepUnless, startTimer } from './wake-signal.ts';
import { planFetches, type FetchStep } from './fetch-plan.ts';
import { headerSectionOf } from '../email/headers.ts';
import { Lifecycle } from '../lifecycle/lifecycle.ts';

/**
 * Retries while a login cannot succeed without a fix: 30 s, doubling, at most 15 minutes apart.
 * Slower than a network blip's backoff (a provider that refused a grant will refuse it again, and
 * providers throttle clients that keep asking), yet a fix is noticed within 15 minutes.
 */
export const LOGIN_ERROR_BACKOFF: BackoffPolicy = { initialMs: 30_000, maxMs: 15 * 60_000, stableAfterMs: DEFAULT_BACKOFF.stableAfterMs };

/** How much of an oversized message is downloaded to read its header section. */
export const HEADER_PREVIEW_BYTES = 256 * 1024;
/** Most bytes of message sources held at once while a batch is processed (one bigger message aside). */
const MAX_GROUP_BYTES = 32 * 1024 * 1024;

/** How a message was downloaded, for `onMessage`. */
export interface FetchedMessageInfo {
  /** RFC822.SIZE as the server reported it; the downloaded length when it reported none. */
  readonly size: number;
  /** Only the header section was downloaded: the message is over `maxMessageBytes`. */
  readonly headersOnly: boolean;
}

export interface FetchedMessage {
  readonly uid: number;
  readonly raw: Buffer;
  readonly info: FetchedMessageInfo;
}

export interface ImapListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly security: ConnectionSecurity;
  readonly username: string;
  /** Where the settings live, for error messages (`repos.api.email`); default `email`. */
  readonly configPath?: string;
  /** The password or OAuth2 grant of the account. */
  readonly login: MailLogin;
  /** How the server's certificate is checked. */
  readonly tls: MailTlsConfig;
  /** Credentials to log in with; default: made from `username` and `login`. */
  readonly credentials?: MailCredentials;
  readonly useIdle: boolean;
  /**
   * Between polls without IDLE; while idling, the safety poll: the inbox is searched at least this
   * often even when the server announces nothing (providers stop notifying without a word).
   */
  readonly pollIntervalMs: number;
  /** IDLE is ended and re-issued this often (providers drop a long IDLE silently). */
  readonly idleRefreshIntervalMs: number;
  /**
   * The connection is logged out and opened again this often, with a fresh login (credentials are
   * asked for again, so an OAuth2 token near expiry is renewed), without the error backoff.
   */
  readonly idleReconnectIntervalMs: number;
  /**
   * Silence after which the connection is probed with NOOP; a second silence of the same length
   * closes it. 50 s means a dead server is noticed within two minutes, even while idling.
   */
  readonly socketTimeoutMs?: number;
  readonly backoff?: BackoffPolicy;
  /** Between attempts while the login cannot succeed without a fix (the `error` state); default LOGIN_ERROR_BACKOFF. */
  readonly errorBackoff?: BackoffPolicy;
  /** Messages fetched per round trip when many are waiting (default 200). */
  readonly batchSize?: number;
  /** Larger messages are downloaded as their header section only; null: no limit. */
  readonly maxMessageBytes?: number | null;
  /**
   * Takes in a group of fetched messages, in UID order, and calls `recorded(uid)` once a message
   * is durably recorded, so it may be removed from the server. May throw; the messages reported
   * recorded before are removed all the same. `stopped()` turns true when the listener stops.
   */
  readonly onMessages: (messages: readonly FetchedMessage[], recorded: (uid: number) => void, stopped: () => boolean) => Promise<void>;
  readonly onStatus: (status: ListenerStatus) => void;
  readonly log: LineLog;
}

export class ImapListener {
  private readonly o: ImapListenerOptions;
  private readonly stopSignal = new WakeSignal();
  /**
   * The loop's lifecycle: running from `run()` until `stop()`. What the connection is doing
   * meanwhile (connecting, idle, polling, backoff) is its reported activity, not a lifecycle state.
   */
  private readonly life = new Lifecycle('IMAP listener');
  private runPromise: Promise<void> | null = null;
  private current: ImapFlow | null = null;
  private lastError: string | null = null;
  private lastStatus: ListenerStatus | null = null;
  private readonly credentials: MailCredentials;

  constructor(options: ImapListenerOptions) {
    this.o = options;
    this.credentials = options.credentials ?? createMailCredentials(options.username, options.login);
  }

  /** Starts the loop; resolves when `stop()` has been called and the connection is closed. */
  run(): Promise<void> {
    if (this.life.is('created')) {
      this.life.to('starting');
      this.life.to('running');
    }
    this.runPromise ??= this.loop();
    return this.runPromise;
  }

  /** Idempotent. Logs out (bounded in time) and ends the loop. */
  async stop(): Promise<void> {
    if (!this.stopping) this.life.to('stopping');
    this.stopSignal.notify();
    const client = this.current;
    if (client?.usable) {
      // Ends IDLE and says goodbye; if the server does not answer, close the socket.
      await Promise.race([client.logout().catch(() => {}), delay(3_000)]);
    }
    client?.close();
    await this.runPromise;
    if (this.life.is('stopping')) this.life.to('stopped');
    this.status('stopped', 'listener stopped');
  }

  /** Asked to stop (or stopped): every wait and loop ends as soon as it sees this. */
  private get stopping(): boolean {
    return this.life.is('stopping', 'stopped');
  }

  private get endpoint(): MailEndpoint {
    const { host, port, security } = this.o;
    return { protocol: 'IMAP', configPath: this.o.configPath ?? 'email', host, port, security };
  }

  private status(state: ListenerState, detail: string | null, nextRetryAt: number | null = null): void {
    const status: ListenerStatus = { state, detail, lastError: this.lastError, nextRetryAt };
    // The safety poll re-enters IDLE every poll interval; the same status again is no news, and
    // each report is a database write in the main thread.
    const last = this.lastStatus;
    if (last && last.state === state && last.detail === detail && last.lastError === status.lastError && last.nextRetryAt === nextRetryAt) return;
    this.lastStatus = status;
    this.o.onStatus(status);
  }

  private async loop(): Promise<void> {
    const policy = this.o.backoff ?? DEFAULT_BACKOFF;
    let attempt = 0;
    /** Consecutive attempts that ended in `needs-fix`: the slow backoff's counter. */
    let unfixed = 0;
    /** The refused token was already replaced once since the last good login. */
    let tokenRenewed = false;
    while (!this.stopping) {
      const { connectedAt, error, planned } = await this.connectOnce();
      if (this.stopping) break;
      if (connectedAt !== null) {
        // Logged in: whatever was wrong with the login is fixed.
        unfixed = 0;
        tokenRenewed = false;
        if (Date.now() - connectedAt >= policy.stableAfterMs) attempt = 0;
      }
      // idle_reconnect_interval is up: a healthy session, so a fresh login at once and a clean slate.
      if (planned) {
        attempt = 0;
        continue;
      }
      const kind = error === null || connectedAt !== null ? 'transient' : classifyLoginFailure(error, this.credentials.method, tokenRenewed, this.endpoint);
      // A refused token is dropped; one the server could not check ([UNAVAILABLE]) is kept.
      if (kind !== 'transient' && isLoginRefusal(error)) this.credentials.loginRefused();
      if (kind === 'renew-token') {
        tokenRenewed = true;
        this.o.log.info('IMAP server refused the cached access token; logging in again with a new one');
        continue;
      }
      if (kind === 'needs-fix') await this.errorBackoff(unfixed++);
      else await this.backoff(policy, attempt++);
    }
  }

  /**
   * One connection: credentials, connect and log in, then the session until it ends. `planned`:
   * it ended because idle_reconnect_interval was up (logged out cleanly).
   */
  private async connectOnce(): Promise<{ connectedAt: number | null; error: unknown; planned: boolean }> {
    let client: ImapFlow;
    try {
      client = this.createClient(await this.credentials.auth());
    } catch (err) {
      this.lastError = describeImapError(err, this.endpoint);
      this.o.log.warn({ err: this.lastError }, 'IMAP login credentials unavailable');
      return { connectedAt: null, error: err, planned: false };
    }
    this.current = client;
    let connectedAt: number | null = null;
    let error: unknown = null;
    let planned = false;
    const closed = new WakeSignal();
    client.on('close', () => closed.notify());
    // imapflow reports most failures as 'error' events; without a listener they would crash
    // the thread. The 'close' event that follows is what ends the session.
    client.on('error', (err: Error) => {
      this.lastError = describeImapError(err, this.endpoint);
      this.o.log.warn({ err: this.lastError }, 'IMAP connection error');
    });
    try {
      this.status('connecting', `${this.o.host}:${this.o.port}`);
      await client.connect();
      connectedAt = Date.now();
      this.o.log.info({ host: this.o.host, port: this.o.port, login: this.credentials.method }, 'IMAP connected');
      planned = (await this.session(client, closed)) === 'reconnect';
    } catch (err) {
      if (!this.stopping) {
        error = err;
        this.lastError = describeImapError(err, this.endpoint);
        this.o.log.warn({ err: this.lastError }, 'IMAP session ended with an error');
      }
    } finally {
      client.close();
      this.current = null;
    }
    return { connectedAt, error, planned };
  }

  private async backoff(policy: BackoffPolicy, attempt: number): Promise<void> {
    if (this.stopping) return;
    const wait = backoffDelay(policy, attempt);
    this.status('backoff', `reconnecting in ${Math.round(wait / 1000)} s`, Date.now() + wait);
    this.o.log.info({ attempt: attempt + 1, waitMs: wait }, 'IMAP reconnect scheduled');
    await sleepUnless(wait, this.stopSignal);
  }

  /** The login cannot succeed as things are: say so, and try again slowly (someone may fix it meanwhile). */
  private async errorBackoff(attempt: number): Promise<void> {
    if (this.stopping) return;
    const wait = backoffDelay(this.o.errorBackoff ?? LOGIN_ERROR_BACKOFF, attempt);
    this.status('error', `cannot log in until the login or grant is fixed; next try in ${Math.round(wait / 1000)} s`, Date.now() + wait);
    this.o.log.error({ err: this.lastError, attempt: attempt + 1, waitMs: wait }, 'IMAP login cannot succeed until the configuration or the grant is fixed');
    await sleepUnless(wait, this.stopSignal);
  }

  private createClient(auth: MailAuth): ImapFlow {
    const { security } = this.o;
    if (this.o.tls.insecureSkipVerify && security !== 'none') this.o.log.warn({ host: this.o.host }, INSECURE_TLS_WARNING);
    return new ImapFlow({
      host: this.o.host,
      port: this.o.port,
      ...imapSecurityOptions(security, this.o.tls),
      auth,
      logger: false,
      disableAutoIdle: true,
      socketTimeout: this.o.socketTimeoutMs ?? 50_000,
      connectionTimeout: 30_000,
      greetingTimeout: 15_000,
    });
  }

  /**
   * One connection's life: process what waits, then wait for more, until the connection closes,
   * the listener stops, or `idleReconnectIntervalMs` is up. Returns 'reconnect' in the last case
   * (logged out cleanly; the loop opens a new connection at once, without backoff).
   */
  private async session(client: ImapFlow, closed: WakeSignal): Promise<'reconnect' | 'ended'> {
    const reconnectAt = Date.now() + this.o.idleReconnectIntervalMs;
    await client.mailboxOpen('INBOX');
    const changed = new WakeSignal();
    client.on('exists', () => changed.notify());
    const canIdle = this.o.useIdle && client.capabilities.has('IDLE');
    if (this.o.useIdle && !canIdle) this.o.log.info('server does not advertise IDLE; polling instead');

    while (!this.stopping && !closed.isPending) {
      changed.consume();
      await this.drain(client);
      this.lastError = null;
      if (this.stopping || closed.isPending) break;
      if (changed.isPending) continue;
      const untilReconnect = reconnectAt - Date.now();
      if (untilReconnect <= 0) {
        await this.logoutForReconnect(client);
        return 'reconnect';
      }
      if (canIdle) await this.idleOnce(client, changed, closed, untilReconnect);
      else await this.pollWait(client, changed, closed, untilReconnect);
    }
    return 'ended';
  }

  /**
   * One IDLE, ended by a notification, by the safety poll (`pollIntervalMs`: providers stop
   * notifying without a word, so the inbox is searched this often regardless), by the refresh
   * (`idleRefreshIntervalMs`: they also drop a long IDLE silently), by the reconnect deadline, by
   * stop, or by imapflow itself. Every way out leads the session back to a search, then a new IDLE.
   */
  private async idleOnce(client: ImapFlow, changed: WakeSignal, closed: WakeSignal, untilReconnect: number): Promise<void> {
    const { pollIntervalMs, idleRefreshIntervalMs } = this.o;
    const timer = startTimer(Math.min(pollIntervalMs, idleRefreshIntervalMs, untilReconnect));
    this.status('idle', 'IDLE on INBOX');
    const idling: Promise<void> = client.idle().then(
      () => {},
      () => {},
    );
    try {
      // IDLE may also end without us: imapflow breaks it for a NOOP when the socket was quiet
      // for `socketTimeout` (its dead-peer probe). Not going back into IDLE then would leave the
      // connection silent until the next timeout, which imapflow treats as a dead server.
      await Promise.race([closed.wait(), this.stopSignal.wait(), changed.wait(), timer.done, idling]);
    } finally {
      timer.cancel();
    }
    // Any command ends IDLE; NOOP also collects pending EXISTS responses.
    if (client.usable && !this.stopping) await client.noop();
    await idling;
  }

  /** Waits `pollIntervalMs` (less when the reconnect deadline comes first) without IDLE. */
  private async pollWait(client: ImapFlow, changed: WakeSignal, closed: WakeSignal, untilReconnect: number): Promise<void> {
    const timer = startTimer(Math.min(this.o.pollIntervalMs, untilReconnect));
    this.status('polling', `polling every ${Math.round(this.o.pollIntervalMs / 1000)} s`);
    try {
      await Promise.race([closed.wait(), this.stopSignal.wait(), changed.wait(), timer.done]);
    } finally {
      timer.cancel();
    }
    if (client.usable && !this.stopping) await client.noop();
  }

  /** Says goodbye before a planned reconnect; a server that does not answer is closed on anyway. */
  private async logoutForReconnect(client: ImapFlow): Promise<void> {
    this.o.log.info({ host: this.o.host, afterMs: this.o.idleReconnectIntervalMs }, 'IMAP reconnecting for a fresh login (idle_reconnect_interval)');
    if (!client.usable) return;
    await Promise.race([client.logout().catch(() => {}), delay(3_000), this.stopSignal.wait()]);
  }

  /** Processes every message in INBOX that is not yet deleted, oldest first, in batches. */
  private async drain(client: ImapFlow): Promise<void> {
    // Large enough that a backlog costs few SEARCH/FETCH/EXPUNGE round trips; the bytes held at
    // once are bounded by MAX_GROUP_BYTES whatever the count.
    const batchSize = this.o.batchSize ?? 200;
    for (;;) {
      if (this.stopping || !client.usable) return;
      const found = await client.search({ deleted: false }, { uid: true });
      const uids = (Array.isArray(found) ? found : []).sort((a, b) => a - b);
      if (uids.length === 0) return;
      this.status('processing', `${uids.length} message(s) waiting`);
      const batch = uids.slice(0, batchSize);
      const sizes = new Map<number, number>();
      for await (const msg of client.fetch(batch.join(','), { uid: true, size: true }, { uid: true })) {
        if (typeof msg.size === 'number') sizes.set(msg.uid, msg.size);
      }
      const done: number[] = [];
      try {
        for (const step of planFetches(batch, sizes, this.o.maxMessageBytes ?? null, MAX_GROUP_BYTES)) {
          // Fetched completely before any callback runs: imapflow cannot take other commands
          // while a FETCH is being iterated.
          const fetched = await this.fetchStep(client, step);
          const messages = [...fetched].map(([uid, m]) => ({ uid, raw: m.raw, info: m.info }));
          await this.o.onMessages(messages, (uid) => done.push(uid), () => this.stopping);
          if (this.stopping) break;
        }
      } finally {
        // Remove what was recorded even if a later message of the batch failed.
        if (done.length && client.usable) await client.messageDelete(done.join(','), { uid: true });
      }
      if (done.length < batch.length && !this.stopping) {
        // Something was not recorded (expunged meanwhile, or the callback declined): don't spin on
        // it; the next connection retries. Throwing hands control to the backoff loop.
        throw new Error(`${batch.length - done.length} message(s) could not be recorded; will retry`);
      }
    }
  }

  private async fetchStep(client: ImapFlow, step: FetchStep): Promise<Map<number, { raw: Buffer; info: FetchedMessageInfo }>> {
    const out = new Map<number, { raw: Buffer; info: FetchedMessageInfo }>();
    if (step.kind === 'headers') {
      const query = { uid: true, source: { start: 0, maxLength: HEADER_PREVIEW_BYTES } };
      for await (const msg of client.fetch(String(step.uid), query, { uid: true })) {
        if (!msg.source) continue;
        // What we record of it: the header section, ended by the blank line.
        const raw = Buffer.concat([headerSectionOf(msg.source), Buffer.from('\r\n')]);
        out.set(msg.uid, { raw, info: { size: step.size, headersOnly: true } });
        this.o.log.warn({ uid: msg.uid, size: step.size, limit: this.o.maxMessageBytes }, 'message over the size limit; read its headers only');
      }
      return out;
    }
    for await (const msg of client.fetch(step.uids.join(','), { uid: true, source: true, size: true }, { uid: true })) {
      if (!msg.source) continue;
      out.set(msg.uid, { raw: msg.source, info: { size: typeof msg.size === 'number' ? msg.size : msg.source.length, headersOnly: false } });
    }
    // In UID order, as planned (servers may answer in any order).
    return new Map(step.uids.filter((u) => out.has(u)).map((u) => [u, out.get(u)!]));
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * A short, secret-free description of an IMAP failure for logs and the dashboard; a TLS failure
 * names the server and the setting to change (tls-errors.ts).
 */
export function describeImapError(err: unknown, endpoint?: MailEndpoint): string {
  const tls = endpoint === undefined ? null : describeTlsFailure(err, endpoint);
  if (tls) return tlsFailureMessage(tls);
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string; responseText?: string; authenticationFailed?: boolean };
  if (e.authenticationFailed) return `login failed: ${e.responseText ?? e.message}`;
  const parts = [e.code, e.responseText ?? e.message].filter(Boolean);
  return parts.join(': ');
}
