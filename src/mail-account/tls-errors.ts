/**
 * What a failed TLS connection to a mail server means, and what to set: one reading of Node's TLS
 * error codes for the listener (its status on /health and the dashboard), the outbox sender (the
 * error stored with a pending reply) and the doctor (its FAIL row), so all three say the same thing.
 *
 * imapflow hands on Node's socket error as it is (`code` UNABLE_TO_VERIFY_LEAF_SIGNATURE, …);
 * nodemailer wraps it as ESOCKET and keeps the TLS code in `originalCode`. A server that does not
 * offer STARTTLS is reported by imapflow as "Server does not support STARTTLS" and by nodemailer
 * as ETLS on the STARTTLS command: in both cases the client stopped before any login.
 */
import type { ConnectionSecurity } from '../config/types.ts';

/** One mail connection of a repository, as the messages name it. */
export interface MailEndpoint {
  readonly protocol: 'IMAP' | 'SMTP';
  /** Config path of the repository's email section, e.g. `repos.api.email`. */
  readonly configPath: string;
  readonly host: string;
  readonly port: number;
  readonly security: ConnectionSecurity;
}

export type TlsFailureKind = 'unknown_ca' | 'self_signed' | 'wrong_host' | 'expired' | 'not_yet_valid' | 'no_starttls' | 'not_tls';

export interface TlsFailure {
  readonly kind: TlsFailureKind;
  /** Node's code (or ETLS / STARTTLS), for logs and tests. */
  readonly code: string;
  /** What happened, naming the server. */
  readonly detail: string;
  /** What to set or do about it. */
  readonly fix: string;
}

/** Certificates signed by a CA that is not in the trust store: a private or company CA, or interception. */
const UNKNOWN_CA = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED']);
const SELF_SIGNED = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT']);
/** OpenSSL's answers when one side speaks TLS and the other does not. */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|http request|ERR_SSL_WRONG_VERSION_NUMBER/i;

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  originalCode?: unknown;
  command?: unknown;
  host?: unknown;
  cert?: { subjectaltname?: unknown; subject?: { CN?: unknown }; valid_to?: unknown } | null;
  cause?: unknown;
}

/** Every code and message along the `cause` chain: libraries wrap socket errors differently. */
export function errorFacts(err: unknown): { codes: string[]; text: string; chain: ErrorLike[] } {
  const codes: string[] = [];
  const texts: string[] = [];
  const chain: ErrorLike[] = [];
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const x = e as ErrorLike;
    chain.push(x);
    if (typeof x.originalCode === 'string') codes.push(x.originalCode);
    if (typeof x.code === 'string') codes.push(x.code);
    if (typeof x.message === 'string' && x.message !== '') texts.push(x.message);
    e = x.cause;
  }
  if (chain.length === 0 && err !== undefined && err !== null) texts.push(String(err));
  return { codes, text: texts.join(' | '), chain };
}

function key(p: MailEndpoint, name: 'server' | 'port' | 'security'): string {
  return `${p.configPath}.${p.protocol === 'IMAP' ? 'imap' : 'smtp'}_${name}`;
}

function ports(p: MailEndpoint): { tls: number; starttls: number } {
  return p.protocol === 'IMAP' ? { tls: 993, starttls: 143 } : { tls: 465, starttls: 587 };
}

/** The names a certificate is issued for, from the error Node raises on a host-name mismatch. */
function certificateNames(chain: readonly ErrorLike[]): string | null {
  for (const x of chain) {
    const san = x.cert?.subjectaltname;
    if (typeof san === 'string' && san !== '') {
      return san
        .split(/,\s*/)
        .map((n) => n.replace(/^(DNS|IP Address):/, ''))
        .join(', ');
    }
    const cn = x.cert?.subject?.CN;
    if (typeof cn === 'string' && cn !== '') return cn;
  }
  return null;
}

function certificateFailure(code: string, p: MailEndpoint, chain: readonly ErrorLike[]): TlsFailure | null {
  const where = `${p.host}:${p.port}`;
  const caFile = `${p.configPath}.tls.ca_file`;
  if (UNKNOWN_CA.has(code)) {
    return {
      kind: 'unknown_ca',
      code,
      detail: `the ${p.protocol} server ${where} presented a certificate signed by a CA this machine does not trust (${code})`,
      fix: `if the server uses a private or company CA, set ${caFile} to that CA's certificate (PEM); a public provider never needs this, so otherwise something between here and ${p.host} intercepts the connection`,
    };
  }
  if (SELF_SIGNED.has(code)) {
    return {
      kind: 'self_signed',
      code,
      detail: `the ${p.protocol} server ${where} presented a self-signed certificate, or one from a self-signed CA this machine does not trust (${code})`,
      fix: `set ${caFile} to that certificate or CA (PEM); only on a lab server, ${p.configPath}.tls.insecure_skip_verify: true turns the check off`,
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = certificateNames(chain);
    return {
      kind: 'wrong_host',
      code,
      detail: `the certificate of the ${p.protocol} server ${where} is for ${names ?? 'another name'}, not for ${p.host} (${code})`,
      fix: `set ${key(p, 'server')} to ${names === null ? 'the name the certificate is issued for' : `a name the certificate is issued for (${names})`}, as the provider's settings page spells it`,
    };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    const expired = code === 'CERT_HAS_EXPIRED';
    return {
      kind: expired ? 'expired' : 'not_yet_valid',
      code,
      detail: `the certificate of the ${p.protocol} server ${where} ${expired ? 'has expired' : 'is not valid yet'} (${code})`,
      fix: expired
        ? `the server's certificate must be renewed (tell the mail server's operator); also check this machine's clock (date -u)`
        : `check this machine's clock (date -u): it is probably behind`,
    };
  }
  return null;
}

/** A TLS failure of a mail connection, or null when `err` is something else (refused login, network). */
export function describeTlsFailure(err: unknown, p: MailEndpoint): TlsFailure | null {
  const { codes, text, chain } = errorFacts(err);
  for (const code of codes) {
    const f = certificateFailure(code, p, chain);
    if (f) return f;
  }
  const where = `${p.host}:${p.port}`;
  const usual = ports(p);
  const starttlsRefused =
    codes.includes('ETLS') || chain.some((x) => x.command === 'STARTTLS') || /does not support STARTTLS|upgrading connection with STARTTLS/i.test(text);
  // A STARTTLS that got no answer in time is a network problem, described by the caller.
  const timedOut = codes.some((c) => /TIMEOUT|ETIMEDOUT/.test(c)) || /timed? ?out/i.test(text);
  if (p.security === 'starttls' && starttlsRefused && !timedOut) {
    return {
      kind: 'no_starttls',
      code: codes.includes('ETLS') ? 'ETLS' : 'STARTTLS',
      detail: `the ${p.protocol} server ${where} does not offer STARTTLS, which ${key(p, 'security')}: starttls requires; the connection was closed before any login (nothing sent in plain text)`,
      fix: `use ${key(p, 'security')}: tls with the server's TLS port (usually ${usual.tls}), or set ${key(p, 'port')} to its STARTTLS port (usually ${usual.starttls})`,
    };
  }
  if (NOT_TLS.test(`${text} ${codes.join(' ')}`)) {
    return {
      kind: 'not_tls',
      code: codes.find((c) => c.startsWith('ERR_SSL')) ?? codes[0] ?? 'EPROTO',
      detail: `the ${p.protocol} server ${where} did not answer with TLS (${key(p, 'security')} is ${p.security})`,
      fix: `${key(p, 'security')} and ${key(p, 'port')} do not match: use tls on port ${usual.tls} and starttls on port ${usual.starttls}`,
    };
  }
  return null;
}

/** The one-line form for a listener status, a log line or a stored send error. */
export function tlsFailureMessage(f: TlsFailure): string {
  return `${f.detail}; ${f.fix}`;
}
