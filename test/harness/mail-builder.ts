/**
 * Builds raw RFC 5322 messages (CRLF line endings) for tests to deliver with IMAP APPEND. Deliberately hand-written
 * rather than nodemailer's composer: tests need exact control over header order, duplicate or missing headers, and
 * the Authentication-Results headers on top — the very things a real MTA would normalise away.
 */
import { randomBytes } from 'node:crypto';

export interface MailAttachment {
  filename: string;
  content: Buffer | string;
  /** Default: application/octet-stream. */
  contentType?: string;
}

export interface BuildMailOptions {
  /** `null` leaves the From header out (for "no sender" tests); add more via `headers` for ambiguous senders. */
  from: string | null;
  to?: string | string[];
  cc?: string | string[];
  subject?: string;
  text?: string;
  html?: string;
  /** Default: a random `<…@test.example>`; `null` leaves the header out. */
  messageId?: string | null;
  inReplyTo?: string;
  /** Oldest first, as in a real References header. */
  references?: string | string[];
  /** Default: now. `null` leaves the header out. */
  date?: Date | string | null;
  /** Authentication-Results values, emitted first, topmost first (index 0 is what the receiving server added). */
  authResults?: string[];
  /** Extra headers, emitted in the given order after the standard ones and before the MIME headers. */
  headers?: Array<[string, string]> | Record<string, string>;
  attachments?: MailAttachment[];
}

const CRLF = '\r\n';

export function randomMessageId(domain = 'test.example'): string {
  return `<${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${domain}>`;
}

/** `${authservId}; dmarc=pass header.from=<domain>` — what a receiving server writes for a sender that passed DMARC. */
export function dmarcPass(authservId: string, headerFromDomain = 'example.com'): string {
  return `${authservId}; dmarc=pass header.from=${headerFromDomain}`;
}

/** Same, with DMARC failing. */
export function dmarcFail(authservId: string, headerFromDomain = 'example.com'): string {
  return `${authservId}; dmarc=fail header.from=${headerFromDomain}`;
}

/** The domain of the first address in `from` (`Alice <alice@Example.COM>` → `example.com`). */
export function domainOf(address: string): string {
  const match = /@([^>\s]+)/.exec(address);
  return (match?.[1] ?? 'example.com').toLowerCase();
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

/** RFC 2047 encoded-word for non-ASCII header text; ASCII passes unchanged. */
export function encodeHeaderText(value: string): string {
  if (isAscii(value)) return value;
  // Split on code points so a multi-byte character never straddles two encoded-words.
  const words: string[] = [];
  let current = '';
  for (const ch of value) {
    if (Buffer.byteLength(current + ch) > 45) {
      words.push(current);
      current = '';
    }
    current += ch;
  }
  if (current) words.push(current);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(`${CRLF} `);
}

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function base64Lines(content: Buffer): string {
  return (content.toString('base64').match(/.{1,76}/g) ?? []).join(CRLF);
}

function normalizeNewlines(text: string): string {
  return text.replace(/\r?\n/g, CRLF);
}

/** A leaf text part: 7bit when that is legal, base64 otherwise. */
function textPart(subtype: 'plain' | 'html', body: string): { headers: string[]; body: string } {
  const normalized = normalizeNewlines(body);
  const sevenBit = isAscii(normalized) && normalized.split(CRLF).every((l) => l.length <= 998);
  return sevenBit
    ? { headers: [`Content-Type: text/${subtype}; charset=utf-8`, 'Content-Transfer-Encoding: 7bit'], body: normalized }
    : {
        headers: [`Content-Type: text/${subtype}; charset=utf-8`, 'Content-Transfer-Encoding: base64'],
        body: base64Lines(Buffer.from(normalized, 'utf8')),
      };
}

function boundary(kind: string): string {
  return `----=_airut_test_${kind}_${randomBytes(8).toString('hex')}`;
}

function multipart(subtype: string, parts: Array<{ headers: string[]; body: string }>): { headers: string[]; body: string } {
  const b = boundary(subtype);
  const body =
    parts.map((p) => `--${b}${CRLF}${p.headers.join(CRLF)}${CRLF}${CRLF}${p.body}${CRLF}`).join('') + `--${b}--${CRLF}`;
  return { headers: [`Content-Type: multipart/${subtype}; boundary="${b}"`], body };
}

function quoteParam(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

function filenameParams(filename: string): { type: string; disposition: string } {
  if (isAscii(filename)) return { type: `name=${quoteParam(filename)}`, disposition: `filename=${quoteParam(filename)}` };
  // RFC 2231 for the disposition, RFC 2047 in name= for clients that only read that.
  return {
    type: `name="${encodeHeaderText(filename).replace(/\r\n /g, ' ')}"`,
    disposition: `filename*=UTF-8''${encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`,
  };
}

function attachmentPart(a: MailAttachment): { headers: string[]; body: string } {
  const content = typeof a.content === 'string' ? Buffer.from(a.content, 'utf8') : a.content;
  const params = filenameParams(a.filename);
  return {
    headers: [
      `Content-Type: ${a.contentType ?? 'application/octet-stream'}; ${params.type}`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; ${params.disposition}`,
    ],
    body: base64Lines(content),
  };
}

function body(opts: BuildMailOptions): { headers: string[]; body: string } {
  const alternatives: Array<{ headers: string[]; body: string }> = [];
  if (opts.text !== undefined) alternatives.push(textPart('plain', opts.text));
  if (opts.html !== undefined) alternatives.push(textPart('html', opts.html));
  if (alternatives.length === 0) alternatives.push(textPart('plain', ''));
  const main = alternatives.length === 1 ? alternatives[0]! : multipart('alternative', alternatives);
  const attachments = opts.attachments ?? [];
  if (attachments.length === 0) return main;
  return multipart('mixed', [main, ...attachments.map(attachmentPart)]);
}

/** Folds a list of message ids so no line exceeds the RFC 5322 limit. */
function idList(ids: string[]): string {
  return ids.join(ids.join(' ').length > 900 ? `${CRLF} ` : ' ');
}

export function buildMail(opts: BuildMailOptions): string {
  const headers: string[] = [];
  for (const value of opts.authResults ?? []) headers.push(`Authentication-Results: ${value}`);
  if (opts.from !== null) headers.push(`From: ${encodeAddressHeader(opts.from)}`);
  const to = list(opts.to);
  if (to.length > 0) headers.push(`To: ${to.map(encodeAddressHeader).join(', ')}`);
  const cc = list(opts.cc);
  if (cc.length > 0) headers.push(`Cc: ${cc.map(encodeAddressHeader).join(', ')}`);
  if (opts.subject !== undefined) headers.push(`Subject: ${encodeHeaderText(opts.subject)}`);
  if (opts.date !== null) {
    const date = opts.date ?? new Date();
    headers.push(`Date: ${typeof date === 'string' ? date : date.toUTCString().replace('GMT', '+0000')}`);
  }
  if (opts.messageId !== null) headers.push(`Message-ID: ${opts.messageId ?? randomMessageId()}`);
  if (opts.inReplyTo !== undefined) headers.push(`In-Reply-To: ${opts.inReplyTo}`);
  const references = list(opts.references);
  if (references.length > 0) headers.push(`References: ${idList(references)}`);
  const extra = opts.headers === undefined ? [] : Array.isArray(opts.headers) ? opts.headers : Object.entries(opts.headers);
  for (const [name, value] of extra) headers.push(`${name}: ${normalizeNewlines(value)}`);
  const mime = body(opts);
  headers.push('MIME-Version: 1.0', ...mime.headers);
  return `${headers.join(CRLF)}${CRLF}${CRLF}${mime.body}${mime.body.endsWith(CRLF) ? '' : CRLF}`;
}

/** `Zoë <zoe@example.com>` → encoded display name, address untouched. */
function encodeAddressHeader(value: string): string {
  if (isAscii(value)) return value;
  const match = /^\s*(.*?)\s*(<[^>]*>)\s*$/.exec(value);
  if (!match) return value;
  const name = (match[1] ?? '').replace(/^"(.*)"$/, '$1');
  return `${encodeHeaderText(name)} ${match[2]}`;
}
