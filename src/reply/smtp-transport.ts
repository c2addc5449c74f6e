/**
 * The SMTP connection of one repo: its own server and account, so replies go out as the repo's
 * own address (DESIGN: nothing per-repo is reachable from another repo's code path).
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { SMTPTransportOptions, SMTPSentMessageInfo } from 'nodemailer';
import type { Readable } from 'node:stream';
import type { RepoServerConfig } from '../config/types.ts';

export type SmtpTransport = Transporter<SMTPSentMessageInfo, SMTPTransportOptions>;

export interface SmtpTimeouts {
  readonly connectionTimeoutMs?: number;
  readonly greetingTimeoutMs?: number;
  readonly socketTimeoutMs?: number;
}

/** The nodemailer options for a repo's SMTP account (exported for tests; holds the password). */
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
    auth: { user: e.username, pass: e.password },
    // Certificates are always verified; a private CA goes in NODE_EXTRA_CA_CERTS.
    tls: { rejectUnauthorized: true },
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

export function createSmtpTransport(repo: Pick<RepoServerConfig, 'email'>, timeouts: SmtpTimeouts = {}): SmtpTransport {
  return nodemailer.createTransport(smtpTransportOptions(repo, timeouts));
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
