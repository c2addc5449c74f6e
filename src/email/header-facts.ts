/**
 * The facts the daemon takes from a message's top-level header section, read by our own header
 * reader (headers.ts) rather than a MIME library: these decide who sent a mail and where it
 * belongs, so they must not depend on how a library tolerates a malformed header.
 *
 * Shared by the listener's outline (outline.ts) and the runner's full parse (parse.ts), so both
 * see the same sender, ids and recipients.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { extractFromAddress, normalizeAddress, type FromVerdict } from './from-address.ts';
import { firstHeaderValue, headerValues, readHeaderLines, type HeaderLine } from './headers.ts';
import { dropComments } from './lexical.ts';
import { decodeMimeWords, problemText, singleLine } from './text.ts';
import { extractMessageIds } from './threading.ts';

export interface HeaderFacts {
  /** With angle brackets, or null. */
  readonly messageId: string | null;
  /** The first msg-id of In-Reply-To, with angle brackets, or null. */
  readonly inReplyTo: string | null;
  /** msg-ids of References in header order (oldest first), with angle brackets. */
  readonly references: readonly string[];
  readonly fromHeaderCount: number;
  readonly from: FromVerdict;
  /** Lowercased bare addresses. */
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly deliveredTo: readonly string[];
  readonly xOriginalTo: readonly string[];
  /** The Date header as ISO 8601, or null when absent or unreadable. */
  readonly date: string | null;
  /** The raw header section, unfolded, in original order. */
  readonly headerLines: readonly HeaderLine[];
  /** Topmost values as written, or null. */
  readonly autoSubmitted: string | null;
  readonly listId: string | null;
  readonly precedence: string | null;
  readonly returnPath: string | null;
}

/** The header lines of `raw`, with a problem for the dashboard when there are none. Never throws. */
export function readHeaderSection(raw: Buffer, problems: string[]): HeaderLine[] {
  let headerLines: HeaderLine[] = [];
  try {
    headerLines = readHeaderLines(raw);
  } catch (err) {
    problems.push(`the header section could not be read: ${problemText(err)}`);
  }
  if (headerLines.length === 0) problems.push('the message has no headers');
  return headerLines;
}

export function headerFacts(headerLines: readonly HeaderLine[]): HeaderFacts {
  const first = (name: string): string | null => firstHeaderValue(headerLines, name);
  const firstId = (name: string): string | null => {
    const v = first(name);
    return v === null ? null : (extractMessageIds(v)[0] ?? null);
  };
  return {
    messageId: firstId('Message-ID'),
    inReplyTo: firstId('In-Reply-To'),
    references: extractMessageIds(first('References') ?? ''),
    fromHeaderCount: headerValues(headerLines, 'From').length,
    from: extractFromAddress(headerLines),
    to: addressesIn(headerValues(headerLines, 'To')),
    cc: addressesIn(headerValues(headerLines, 'Cc')),
    deliveredTo: addressesIn(headerValues(headerLines, 'Delivered-To')),
    xOriginalTo: addressesIn(headerValues(headerLines, 'X-Original-To')),
    date: dateOf(first('Date')),
    headerLines,
    autoSubmitted: first('Auto-Submitted'),
    listId: first('List-Id'),
    precedence: first('Precedence'),
    returnPath: first('Return-Path'),
  };
}

const MAX_SUBJECT = 2000;

/**
 * The subject as the daemon shows and threads it: `decoded` (the MIME reader's reading of the
 * Subject header) when it has one, else our own decoding of the first Subject header; one line, no
 * control characters, at most 2,000 characters; '' when there is none.
 */
export function subjectLine(decoded: string | null, headerLines: readonly HeaderLine[]): string {
  let subject = decoded;
  const raw = firstHeaderValue(headerLines, 'Subject');
  if (subject === null && raw !== null) subject = decodeMimeWords(raw);
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

/** Longer than any date a mail client writes (with a comment naming the zone); longer is not a date. */
const MAX_DATE_CHARS = 200;

function dateOf(value: string | null): string | null {
  if (value === null || value.length > MAX_DATE_CHARS) return null;
  // Our comment scanner, not `/\([^)]*\)/`: that one rescans from every `(` of a run without `)`.
  const ms = Date.parse(dropComments(value).trim());
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
