/**
 * The SMTP connection of one repo: its own server and account, so replies go out as the repo's
 * own address (DESIGN: nothing per-repo is reachable from another repo's code path).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { SMTPTransportOptions, SMTPSentMessageInfo } from 'nodemailer';
import type { Readable } from 'node:stream';
import type { RepoServerConfig } from '../config/types.ts';
import { createMailCredentials, type MailCredentials } from '../mail-account/credentials.ts';
import { REFRESH_MARGIN_MS } from '../mail-account/oauth2-token-source.ts';
import { mailTlsOptions } from '../mail-account/tls.ts';

export type SmtpTransport = Transporter<SMTPSentMessageInfo, SMTPTransportOptions>;

export interface SmtpTimeouts {
  readonly connectionTimeoutMs?: number;
  readonly greetingTimeoutMs?: number;
  readonly socketTimeoutMs?: number;
}

/** The nodemailer options for a repo's SMTP account (exported for tests; holds the password, if any). */
export function smtpTransportOptions(repo: Pick<RepoServerConfig, 'email'>, timeouts: SmtpTimeouts = {}): SMTPTransportOptions {
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
    // One connection per message: mail is rare, and an idle pooled connection only goes stale.
    pool: false,
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
): SmtpTransport {
  const transport = nodemailer.createTransport(smtpTransportOptions(repo, timeouts));
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

/**
 * Sends stored message bytes unchanged, from memory or streamed from a file. Rejects with
 * nodemailer's error (`code`, `responseCode`).
 */
export async function sendRaw(transport: SmtpTransport, envelope: RawEnvelope, raw: Buffer | Readable): Promise<SMTPSentMessageInfo> {
  return transport.sendMail({ envelope: { from: envelope.from, to: [envelope.to] }, raw });
}
