/**
 * A raw message → a plain, structured-cloneable description (it crosses from the repo's listener
 * thread to the supervisor). Security-relevant facts come from our own reading of the raw header
 * section (headers.ts); mailparser is used for MIME bodies, attachments and subject decoding only.
 *
 * Never throws: garbage in gives a description with empty fields and `problems` filled in, which
 * the screen then rejects (no From → malformed).
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import addressparser from 'nodemailer/lib/addressparser';
import { extractBodyText } from './body-text.ts';
import { extractFromAddress, normalizeAddress, type FromVerdict } from './from-address.ts';
import { firstHeaderValue, headerValues, readHeaderLines, type HeaderLine } from './headers.ts';
import { decodeMimeWords, singleLine } from './text.ts';
import { extractMessageIds } from './threading.ts';
import { MIME_LIMITS } from './mime-limits.ts';

export { MIME_LIMITS };

/** What is known about an attachment without keeping its bytes (they are re-read from the raw message). */
export interface AttachmentInfo {
  /** As the sender named it: may be null, empty, contain path parts or be hostile. Sanitize before use. */
  readonly filename: string | null;
  readonly contentType: string;
  readonly size: number;
  /** Shown inline by the sender's client (a pasted image, a related part). */
  readonly inline: boolean;
}

export interface ParsedMessage {
  /** With angle brackets, or null. */
  readonly messageId: string | null;
  /** The first msg-id of In-Reply-To, with angle brackets, or null. */
  readonly inReplyTo: string | null;
  /** msg-ids of References in header order (oldest first), with angle brackets. */
  readonly references: readonly string[];
  /** Decoded, single line, no control characters; '' when absent. */
  readonly subject: string;
  readonly fromHeaderCount: number;
  readonly from: FromVerdict;
  /** Lowercased bare addresses. */
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly deliveredTo: readonly string[];
  readonly xOriginalTo: readonly string[];
  /** The Date header as ISO 8601, or null when absent or unreadable. */
  readonly date: string | null;
  /** The author's text without quoted history (see body-text.ts); '' when there is none. */
  readonly bodyText: string;
  readonly hasHtml: boolean;
  readonly attachments: readonly AttachmentInfo[];
  /** The raw header section, unfolded, in original order. */
  readonly headerLines: readonly HeaderLine[];
  /** Topmost values as written, or null. */
  readonly autoSubmitted: string | null;
  readonly listId: string | null;
  readonly precedence: string | null;
  readonly returnPath: string | null;
  /** Things that went wrong while reading the message, for the dashboard; [] normally. */
  readonly problems: readonly string[];
  /**
   * The MIME structure broke one of the reader's own bounds (`MIME_LIMITS`), so the body and
   * attachments could not be read: too many parts, or a part's header section too large.
   */
  readonly structureLimit: 'parts' | 'header' | null;
}


const MAX_SUBJECT = 2000;

export async function parseMessage(raw: Buffer): Promise<ParsedMessage> {
  const problems: string[] = [];
  let headerLines: HeaderLine[] = [];
  try {
    headerLines = readHeaderLines(raw);
  } catch (err) {
    problems.push(`the header section could not be read: ${messageOf(err)}`);
  }
  if (headerLines.length === 0) problems.push('the message has no headers');

  let mail: ParsedMail | null = null;
  let structureLimit: ParsedMessage['structureLimit'] = null;
  try {
    mail = await simpleParser(raw, {
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
      skipImageLinks: true,
      ...MIME_LIMITS,
    } as Parameters<typeof simpleParser>[1]);
  } catch (err) {
    problems.push(`the MIME structure could not be parsed: ${messageOf(err)}`);
    if ((err as { code?: unknown }).code === 'EMAXLEN') structureLimit = /child nodes/i.test(messageOf(err)) ? 'parts' : 'header';
  }

  let bodyText = '';
  try {
    bodyText = mail ? extractBodyText({ html: mail.html || null, text: mail.text ?? null }) : '';
  } catch (err) {
    problems.push(`the body text could not be extracted: ${messageOf(err)}`);
  }

  const first = (name: string): string | null => firstHeaderValue(headerLines, name);
  const firstId = (name: string): string | null => {
    const v = first(name);
    return v === null ? null : (extractMessageIds(v)[0] ?? null);
  };

  return {
    messageId: firstId('Message-ID'),
    inReplyTo: firstId('In-Reply-To'),
    references: extractMessageIds(first('References') ?? ''),
    subject: subjectOf(mail, first('Subject')),
    fromHeaderCount: headerValues(headerLines, 'From').length,
    from: extractFromAddress(headerLines),
    to: addressesIn(headerValues(headerLines, 'To')),
    cc: addressesIn(headerValues(headerLines, 'Cc')),
    deliveredTo: addressesIn(headerValues(headerLines, 'Delivered-To')),
    xOriginalTo: addressesIn(headerValues(headerLines, 'X-Original-To')),
    date: dateOf(first('Date')),
    bodyText,
    hasHtml: Boolean(mail?.html),
    attachments: (mail?.attachments ?? []).map((a) => ({
      filename: typeof a.filename === 'string' ? a.filename : null,
      contentType: typeof a.contentType === 'string' ? a.contentType : 'application/octet-stream',
      size: typeof a.size === 'number' ? a.size : 0,
      inline: isInlinePart(a),
    })),
    headerLines,
    autoSubmitted: first('Auto-Submitted'),
    listId: first('List-Id'),
    precedence: first('Precedence'),
    returnPath: first('Return-Path'),
    problems,
    structureLimit,
  };
}

/** A part the sender's client shows inside the text (a pasted image, a part of multipart/related). */
export function isInlinePart(a: { readonly contentDisposition?: string; readonly related?: boolean }): boolean {
  return a.contentDisposition === 'inline' || a.related === true;
}

function subjectOf(mail: ParsedMail | null, rawSubject: string | null): string {
  let subject = typeof mail?.subject === 'string' ? mail.subject : null;
  if (subject === null && rawSubject !== null) subject = decodeMimeWords(rawSubject);
  const line = singleLine(subject ?? '');
  return line.length > MAX_SUBJECT ? line.slice(0, MAX_SUBJECT) : line;
}

function addressesIn(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let parsed: { address: string }[];
    try {
      parsed = addressparser(value, { flatten: true });
    } catch {
      continue;
    }
    for (const { address } of parsed) {
      const normal = normalizeAddress(address.trim());
      if (normal !== null && !out.includes(normal)) out.push(normal);
    }
  }
  return out;
}

function dateOf(value: string | null): string | null {
  if (value === null) return null;
  const ms = Date.parse(value.replace(/\([^)]*\)/g, ' ').trim());
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function messageOf(err: unknown): string {
  return singleLine(err instanceof Error ? err.message : String(err)).slice(0, 200);
}
