/**
 * The SMTP connection of one repo: its own server and account, so replies go out as the repo's
 * own address (DESIGN: nothing per-repo is reachable from another repo's code path).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { SendMailOptions, SMTPPoolOptions, SMTPSentMessageInfo, SMTPTransportOptions } from 'nodemailer';
import { PassThrough, type Readable } from 'node:stream';
import type { RepoServerConfig } from '../config/types.ts';
import { createMailCredentials, type MailCredentials } from '../mail-account/credentials.ts';
import { REFRESH_MARGIN_MS } from '../mail-account/oauth2-token-source.ts';
import { mailTlsOptions } from '../mail-account/tls.ts';

export type SmtpTransport = Transporter<SMTPSentMessageInfo, SMTPTransportOptions | SMTPPoolOptions>;

export interface SmtpTimeouts {
  readonly connectionTimeoutMs?: number;
  readonly greetingTimeoutMs?: number;
  readonly socketTimeoutMs?: number;
  /** A pooled connection unused this long is closed (QUIT). Default SMTP_POOL_IDLE_MS. */
  readonly poolIdleMs?: number;
}

/**
 * Well under the 5 minutes RFC 5321 asks a server to wait for the next command, so it is nearly
 * always us who ends an idle session, cleanly, and not the server in the middle of our next send.
 * A follow-up reply usually comes within this time; a quiet repository holds no connection.
 */
export const SMTP_POOL_IDLE_MS = 30_000;

/**
 * One connection per repository: the outbox sends a repository's mails one at a time (oldest
 * first, conversation order), so a second connection would never be used.
 */
export const SMTP_POOL_MAX_CONNECTIONS = 1;

/**
 * The nodemailer options for a repo's SMTP account (exported for tests; holds the password, if
 * any). `pooled`: the outbox's long-lived pool; otherwise one connection per use (the doctor).
 */
export function smtpTransportOptions(repo: Pick<RepoServerConfig, 'email'>, timeouts: SmtpTimeouts = {}, pooled = false): SMTPTransportOptions | SMTPPoolOptions {
  const e = repo.email;
  const security: Pick<SMTPTransportOptions, 'secure' | 'requireTLS' | 'ignoreTLS'> =
    e.smtpSecurity === 'tls'
      ? { secure: true }
      : e.smtpSecurity === 'starttls'
        ? { secure: false, requireTLS: true }
        : // Plain text; the configuration only allows it towards a loopback address.
          { secure: false, ignoreTLS: true };
  return {
    host: e.smtpServer,
    port: e.smtpPort,
    ...security,
    // OAuth2: nodemailer asks createSmtpTransport's provisioner for the token (XOAUTH2), and asks
    // again, for a new one, when the server refuses it.
    auth: e.login.kind === 'password' ? { user: e.username, pass: e.login.password } : { type: 'OAuth2', user: e.username },
    tls: mailTlsOptions(e.tls),
    connectionTimeout: timeouts.connectionTimeoutMs ?? 30_000,
    greetingTimeout: timeouts.greetingTimeoutMs ?? 30_000,
    socketTimeout: timeouts.socketTimeoutMs ?? 60_000,
    ...(pooled
      ? {
          pool: true as const,
          maxConnections: SMTP_POOL_MAX_CONNECTIONS,
          // Without a bound nodemailer closes a connection after 100 messages; a live one is fine.
          maxMessages: Infinity,
          idleTimeout: timeouts.poolIdleMs ?? SMTP_POOL_IDLE_MS,
          // nodemailer must not resend on its own: the outbox decides (sendRaw's bodyStarted).
          maxRequeues: 0,
        }
      : { pool: false as const }),
    // nodemailer's own logger would print SMTP traffic, AUTH included.
    logger: false,
    debug: false,
  };
}

/**
 * `credentials` should live as long as the repository's configuration, so that an OAuth2 token is
 * reused across sends; by default each transport makes its own.
 */
export function createSmtpTransport(
  repo: Pick<RepoServerConfig, 'email'>,
  timeouts: SmtpTimeouts = {},
  credentials: MailCredentials = createMailCredentials(repo.email.username, repo.email.login),
  pooled = false,
  onConnection?: () => void,
): SmtpTransport {
  const options = smtpTransportOptions(repo, timeouts, pooled);
  // nodemailer asks getSocket for every connection it opens (pooled or not); `false` = connect
  // as configured. The only hook that sees each new connection.
  if (onConnection) {
    options.getSocket = (_opts, callback) => {
      onConnection();
      setImmediate(() => callback(null, false));
    };
  }
  const transport: SmtpTransport = nodemailer.createTransport(options);
  transport.use('stream', watchBody);
  if (repo.email.login.kind === 'oauth2') {
    // nodemailer keeps the token until `expires` and asks again with renew=true when the server
    // refuses it: the cached token is dropped then, so that one retry uses a new one.
    transport.set('oauth2_provision_cb', (_user: string, renew: boolean, callback: (err: Error | null, token?: string, expires?: number) => void) => {
      if (renew) credentials.loginRefused();
      credentials.token().then(
        (issued) => (issued ? callback(null, issued.accessToken, issued.expiresAt - REFRESH_MARGIN_MS) : callback(new Error('internal: no OAuth2 token source'))),
        (err: Error) => callback(err),
      );
    });
  }
  return transport;
}

export interface RawEnvelope {
  /** MAIL FROM: the repo's bare address. */
  readonly from: string;
  /** RCPT TO. */
  readonly to: string;
}

/** Per send: the message body's last stream, once nodemailer built it. */
interface BodyProbe {
  body?: Readable;
}

const PROBE_KEY = 'airutBodyProbe';

/**
 * The last step of nodemailer's message pipeline: its output is the stream the SMTP connection
 * pipes after the server answered DATA with 354, and nothing else reads it. Until then it only
 * fills its buffer, so its `readableDidRead` (data was emitted) stays false.
 */
function watchBody(mail: { data: object; message: { processFunc(fn: (input: Readable) => Readable): void } }, done: (err?: Error | null) => void): void {
  const probe = (mail.data as { [PROBE_KEY]?: BodyProbe })[PROBE_KEY];
  if (probe) {
    mail.message.processFunc((input) => {
      const out = new PassThrough();
      input.on('error', (err) => out.destroy(err));
      input.pipe(out);
      probe.body = out;
      return out;
    });
  }
  done();
}

export type SendOutcome =
  | { readonly ok: true; readonly info: SMTPSentMessageInfo }
  | {
      readonly ok: false;
      /** nodemailer's error (`code`, `responseCode`). */
      readonly error: unknown;
      /**
       * Whether the connection had begun to send the message body. While it had not, the
       * terminating "." cannot have been sent, so the server cannot have accepted the message.
       */
      readonly bodyStarted: boolean;
    };

/** Sends stored message bytes unchanged, from memory or streamed from a file. Never throws. */
export async function sendRaw(transport: SmtpTransport, envelope: RawEnvelope, raw: Buffer | Readable): Promise<SendOutcome> {
  const probe: BodyProbe = {};
  const mail: SendMailOptions & { [PROBE_KEY]: BodyProbe } = { envelope: { from: envelope.from, to: [envelope.to] }, raw, [PROBE_KEY]: probe };
  try {
    return { ok: true, info: await transport.sendMail(mail) };
  } catch (error) {
    return { ok: false, error, bodyStarted: probe.body?.readableDidRead ?? false };
  }
}
