/**
 * Turns a failed IMAP or SMTP connection into what an operator needs: what happened, in one
 * line, and which setting to change. imapflow and nodemailer report the same network failures
 * with different shapes, so both are read here in one place; TLS failures are read by
 * mail-account/tls-errors.ts, which the listener and the outbox sender use too. A refused login
 * gets the fix its words and the login method call for (Exchange Online, Gmail, a refused token).
 */
import { printable } from '../email/text.ts';
import { describeTlsFailure, errorFacts, type MailEndpoint } from '../mail-account/tls-errors.ts';
import { seconds } from './types.ts';

export type { MailEndpoint };

/** The endpoint, and how the repository logs in there (the fix for a refused login depends on it). */
export interface DoctorMailEndpoint extends MailEndpoint {
  readonly login: 'password' | 'microsoft_oauth2' | 'oauth2';
}

export interface MailFailure {
  readonly detail: string;
  readonly fix: string;
}

interface ErrorLike {
  message?: string;
  code?: unknown;
  responseText?: string;
  response?: string;
  responseCode?: number;
  authenticationFailed?: boolean;
}

function usualPorts(p: MailEndpoint): string {
  return p.protocol === 'IMAP' ? '993 with tls, or 143 with starttls' : '465 with tls, or 587 with starttls';
}

function portKey(p: MailEndpoint): string {
  return `${p.configPath}.${p.protocol === 'IMAP' ? 'imap' : 'smtp'}_port`;
}

function hostKey(p: MailEndpoint): string {
  return `${p.configPath}.${p.protocol === 'IMAP' ? 'imap' : 'smtp'}_server`;
}

function securityKey(p: MailEndpoint): string {
  return `${p.configPath}.${p.protocol === 'IMAP' ? 'imap' : 'smtp'}_security`;
}

/** Whether the error is the server refusing the username/password (as opposed to a network problem). */
export function isLoginRefused(err: unknown): boolean {
  const x = err as ErrorLike | undefined;
  if (!x) return false;
  return x.authenticationFailed === true || x.code === 'EAUTH' || x.responseCode === 535;
}

/** Exchange Online's answers to a password login once basic authentication is off (IMAP, SMTP). */
const EXCHANGE_BASIC_AUTH_OFF = /^(AUTHENTICATE|LOGIN) failed\.?$|5\.7\.139.*basic authentication is disabled/i;
/** Exchange Online with SMTP AUTH turned off for the tenant or the mailbox. */
const EXCHANGE_SMTP_AUTH_OFF = /SmtpClientAuthentication is disabled/i;
/** Gmail refusing the account password of an account with 2-step verification. */
const GMAIL_APP_PASSWORD = /Application-specific password required/i;

/** A refused login, and the fix that fits the server's words and the configured login method. */
function describeRefusedLogin(err: unknown, p: DoctorMailEndpoint): MailFailure {
  const x = (err ?? {}) as ErrorLike;
  const said = printable((x.responseText ?? x.response ?? x.message ?? 'authentication failed').replace(/\s+/g, ' '), 200);
  const where = `${p.host}:${p.port}`;
  const detail = `login refused by ${where}: ${said}`;
  if (EXCHANGE_SMTP_AUTH_OFF.test(said)) {
    return {
      detail,
      fix: 'Exchange Online has SMTP AUTH turned off: an Exchange administrator enables it for this mailbox (Set-CASMailbox <mailbox> -SmtpClientAuthenticationDisabled $false); see docs/email-setup.md',
    };
  }
  if (p.login === 'password' && EXCHANGE_BASIC_AUTH_OFF.test(said.trim())) {
    return {
      detail: `Exchange Online refused basic authentication at ${where} (${said})`,
      fix: `configure ${p.configPath}.microsoft_oauth2 instead of password: Microsoft 365 no longer accepts passwords for IMAP and SMTP (docs/email-setup.md, "Microsoft 365")`,
    };
  }
  if (GMAIL_APP_PASSWORD.test(said)) {
    return {
      detail,
      fix: `Gmail wants an app password for this account: create one (Google Account, Security, App passwords) and put it in the variable ${p.configPath}.password reads, or configure ${p.configPath}.oauth2`,
    };
  }
  if (p.login !== 'password') {
    return {
      detail: `${detail} (the access token was refused)`,
      fix:
        p.login === 'microsoft_oauth2'
          ? `the token was issued but the mailbox does not accept it: register the app's service principal in Exchange Online and give it access to ${p.protocol === 'IMAP' ? 'the mailbox (Add-MailboxPermission)' : 'the mailbox (Add-MailboxPermission; SMTP also needs SMTP AUTH enabled)'}, and check ${p.configPath}.username is that mailbox; see docs/email-setup.md`
          : `the token was issued but the server does not accept it: check ${p.configPath}.username is the account that granted access, and that the grant's scope covers mail (Google: https://mail.google.com/)`,
    };
  }
  return {
    detail,
    fix:
      `check ${p.configPath}.username and ${p.configPath}.password (the variable its !env names must hold the current password); ` +
      'Gmail needs an app password, and Microsoft 365 needs microsoft_oauth2',
  };
}

export function describeMailFailure(err: unknown, p: DoctorMailEndpoint, timeoutMs: number): MailFailure {
  const { codes, text } = errorFacts(err);
  const where = `${p.host}:${p.port}`;
  const has = (...c: string[]) => c.some((code) => codes.includes(code) || text.includes(code));

  if (isLoginRefused(err)) return describeRefusedLogin(err, p);
  // Before the network reasons: a certificate refused mid-handshake also closes the socket.
  const tls = describeTlsFailure(err, p);
  if (tls) return { detail: tls.detail, fix: tls.fix };
  if (has('ECONNREFUSED')) {
    return {
      detail: `connection refused by ${where}`,
      fix: `nothing accepts ${p.protocol} connections there: check ${hostKey(p)} and ${portKey(p)} (usually ${usualPorts(p)})`,
    };
  }
  if (has('ENOTFOUND', 'EAI_AGAIN', 'EDNS')) {
    return {
      detail: `the host name ${p.host} does not resolve`,
      fix: `check the spelling of ${hostKey(p)} and that this machine's DNS works (getent hosts ${p.host})`,
    };
  }
  if (has('EHOSTUNREACH', 'ENETUNREACH')) {
    return { detail: `no route to ${where}`, fix: `check this machine's network and firewall towards ${p.host}` };
  }
  if (
    has('ETIMEDOUT', 'ETIMEOUT', 'CONNECT_TIMEOUT', 'GREETING_TIMEOUT', 'UPGRADE_TIMEOUT') ||
    /timed? ?out/i.test(text)
  ) {
    return {
      detail: `no answer from ${where} within ${seconds(timeoutMs)}`,
      fix:
        `a firewall may drop the traffic, or ${portKey(p)} is not the ${p.protocol} port; ` +
        `try \`nc -vz ${p.host} ${p.port}\` from this machine (usual ports: ${usualPorts(p)})`,
    };
  }
  if (has('ECONNRESET', 'ECONNECTION', 'EConnectionClosed', 'NoConnection', 'ClosedAfterConnectText') || /closed/i.test(text)) {
    return {
      detail: `${where} closed the connection: ${printable(text, 160)}`,
      fix: `check that ${portKey(p)} is the ${p.protocol} port and ${securityKey(p)} (${p.security}) is what it expects; the server may also limit connections per address`,
    };
  }
  return {
    detail: `${p.protocol} to ${where} failed: ${printable([codes[0], text].filter(Boolean).join(': '), 200)}`,
    fix: `check ${p.configPath} against the provider's settings (see docs/email-setup.md)`,
  };
}
