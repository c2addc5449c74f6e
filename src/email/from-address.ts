/**
 * Who sent the message, read strictly: exactly one From header holding exactly one plain ASCII
 * address. DMARC vouches for the From domain as the receiving server parsed it; anything that two
 * parsers could read differently (two headers, lists, groups, `a@x <b@y>`, an address-like
 * comment) is refused instead of guessed at.
 */
import { headerValues, type HeaderLine } from './headers.ts';
import { commentsOf, stripComments, unquote } from './lexical.ts';
import { decodeMimeWords, printable, singleLine } from './text.ts';

export type FromVerdict =
  | {
      readonly ok: true;
      /** Lowercased `local@domain`. */
      readonly address: string;
      /** Decoded display name, single line; may be empty. Never use it for decisions. */
      readonly displayName: string;
      /** The header value as written (unfolded). */
      readonly raw: string;
    }
  | {
      readonly ok: false;
      /** Why the From header was refused, as a sentence fragment for the dashboard. */
      readonly reason: string;
      /** The header value as written, or null when there is none (or several). */
      readonly raw: string | null;
    };

const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`);
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Validates and lowercases a bare `local@domain`; null when it is not one. */
export function normalizeAddress(addrSpec: string): string | null {
  const at = addrSpec.lastIndexOf('@');
  if (at <= 0) return null;
  const local = addrSpec.slice(0, at);
  const domain = addrSpec.slice(at + 1);
  if (local.length > 64 || domain.length > 253) return null;
  if (!LOCAL_PART.test(local) || !DOMAIN.test(domain)) return null;
  return `${local}@${domain}`.toLowerCase();
}

/**
 * The sender as the prompt shows it — Airut puts the From header there as written: `Name <address>`
 * with the decoded display name, or the bare address; `fallback` when the header could not be read.
 */
export function senderLine(from: FromVerdict, fallback: string): string {
  if (!from.ok) return fallback;
  const name = from.displayName.replace(/\s+/g, ' ').trim();
  return name ? `${name} <${from.address}>` : from.address;
}

export function extractFromAddress(headerLines: readonly HeaderLine[]): FromVerdict {
  const values = headerValues(headerLines, 'From');
  if (values.length === 0) return { ok: false, reason: 'the message has no From header', raw: null };
  if (values.length > 1) return { ok: false, reason: `the message has ${values.length} From headers`, raw: null };
  const raw = values[0] as string;
  const result = parseSingleMailbox(raw);
  if (!result.ok) return { ok: false, reason: `the From header "${printable(raw)}" ${result.problem}`, raw };
  return { ok: true, address: result.address, displayName: result.displayName, raw };
}

type Mailbox = { ok: true; address: string; displayName: string } | { ok: false; problem: string };

function parseSingleMailbox(value: string): Mailbox {
  // A bare CR, NUL or other control character means header smuggling, not a name.
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return { ok: false, problem: 'contains control characters' };
  if (value.trim() === '') return { ok: false, problem: 'is empty' };
  const lexed = stripComments(value);
  if (!lexed.ok) return { ok: false, problem: `contains ${lexed.problem}` };
  // `alice@corp.example (<x@evil.example>)`: a parser that does not know comments, or knows them
  // differently, reads the address in the comment. A comment is free text, but one that looks like
  // an address has no honest use in a From header.
  if (commentsOf(value).some((c) => /[<>@]/.test(c))) {
    return { ok: false, problem: 'has a comment holding "<", ">" or "@", which mail programs may read as the address' };
  }
  const text = lexed.text;

  // Positions of structural characters outside quoted strings.
  const marks: { char: string; at: number }[] = [];
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '<' || c === '>' || c === ',' || c === ';' || c === ':' || c === '@') marks.push({ char: c, at: i });
  }
  if (marks.some((m) => m.char === ',')) return { ok: false, problem: 'holds more than one address' };
  if (marks.some((m) => m.char === ':' || m.char === ';')) return { ok: false, problem: 'is a group or has a route' };

  const opens = marks.filter((m) => m.char === '<');
  const closes = marks.filter((m) => m.char === '>');
  let addrSpec: string;
  let display = '';
  if (opens.length === 0 && closes.length === 0) {
    addrSpec = text.trim();
    if (addrSpec.includes('"')) return { ok: false, problem: 'has a quoted local part, which is not accepted' };
  } else {
    const open = opens[0];
    const close = closes[0];
    if (opens.length !== 1 || closes.length !== 1 || !open || !close || close.at < open.at) {
      return { ok: false, problem: 'does not hold exactly one <address>' };
    }
    if (text.slice(close.at + 1).trim() !== '') return { ok: false, problem: 'has text after the <address>' };
    // An unquoted @ in the name part ("evil@bad.org <admin@example.com>") reads as two addresses.
    if (marks.some((m) => m.char === '@' && m.at < open.at)) {
      return { ok: false, problem: 'has an unquoted address in its display name' };
    }
    addrSpec = text.slice(open.at + 1, close.at).trim();
    if (addrSpec.includes('"')) return { ok: false, problem: 'has a quoted local part, which is not accepted' };
    display = text.slice(0, open.at).trim();
  }

  if (addrSpec === '') return { ok: false, problem: 'has an empty address' };
  if (/[^\u0000-\u007f]/.test(addrSpec)) return { ok: false, problem: 'has a non-ASCII address, which is not accepted' };
  const address = normalizeAddress(addrSpec);
  if (address === null) return { ok: false, problem: 'does not hold a valid address' };
  // Linear: the quotes in `display` are balanced (an unterminated one was refused above), and the
  // two alternatives cannot match the same character.
  const unquoted = display.replace(/"(?:[^"\\]|\\.)*"/g, (q) => unquote(q));
  const displayName = singleLine(decodeMimeWords(unquoted));
  return { ok: true, address, displayName };
}
