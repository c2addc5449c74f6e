/**
 * Turns a failed IMAP or SMTP connection into what an operator needs: what happened, in one
 * line, and which setting to change. imapflow and nodemailer report the same network and TLS
 * failures with different shapes, so both are read here in one place.
 */
import { printable } from '../email/text.ts';
import { seconds } from './types.ts';

export interface MailEndpoint {
  readonly protocol: 'IMAP' | 'SMTP';
  /** Config path of the repository's email section, e.g. `repos.api.email`. */
  readonly configPath: string;
  readonly host: string;
  readonly port: number;
  readonly security: 'tls' | 'starttls' | 'none';
}

export interface MailFailure {
  readonly detail: string;
  readonly fix: string;
}

const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface ErrorLike {
  message?: string;
  code?: unknown;
  responseText?: string;
  response?: string;
  responseCode?: number;
  authenticationFailed?: boolean;
  cause?: unknown;
}

/** Every code and message along the `cause` chain: libraries wrap socket errors differently. */
function facts(err: unknown): { codes: string[]; text: string } {
  const codes: string[] = [];
  const texts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const x = e as ErrorLike;
    if (typeof x.code === 'string') codes.push(x.code);
    if (x.message) texts.push(x.message);
    e = x.cause;
  }
  return { codes, text: texts.join(' | ') };
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

export function describeMailFailure(err: unknown, p: MailEndpoint, timeoutMs: number): MailFailure {
  const x = (err ?? {}) as ErrorLike;
  const { codes, text } = facts(err);
  const where = `${p.host}:${p.port}`;
  const has = (...c: string[]) => c.some((code) => codes.includes(code) || text.includes(code));

  if (isLoginRefused(err)) {
    const said = printable(x.responseText ?? x.response ?? x.message ?? 'authentication failed', 160);
    return {
      detail: `login refused by ${where}: ${said}`,
      fix:
        `check ${p.configPath}.username and ${p.configPath}.password (the variable its !env names must hold the current password); ` +
        'Gmail needs an app password, and Microsoft 365 has turned password login off',
    };
  }
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
  const cert = codes.find((c) => CERT_CODES.has(c));
  if (cert) {
    const altname = cert === 'ERR_TLS_CERT_ALTNAME_INVALID';
    return {
      detail: `the certificate of ${where} does not verify (${cert})`,
      fix: altname
        ? `set ${hostKey(p)} to the host name the certificate is issued for`
        : 'for a certificate from a private CA, start the daemon with NODE_EXTRA_CA_CERTS=/path/to/ca.pem (and run the doctor the same way); an expired certificate must be renewed on the server',
    };
  }
  if (/wrong version number|packet length too long|unknown protocol|EPROTO|ssl3_get_record|ClosedAfterConnectTLS/i.test(`${text} ${codes.join(' ')}`)) {
    return {
      detail: `TLS handshake with ${where} failed: ${printable(text, 160)}`,
      fix: `${securityKey(p)} (${p.security}) does not match what the port speaks: use tls on ${p.protocol === 'IMAP' ? '993' : '465'} and starttls on ${p.protocol === 'IMAP' ? '143' : '587'}`,
    };
  }
  if (/STARTTLS/i.test(text)) {
    return {
      detail: `${where} did not upgrade the connection with STARTTLS: ${printable(text, 160)}`,
      fix: `the server offers no STARTTLS on this port: use ${securityKey(p)}: tls with its TLS port (${p.protocol === 'IMAP' ? '993' : '465'})`,
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
