/**
 * The raw header section of a message, read by us rather than by a MIME library.
 *
 * Authentication depends on header *order* (only the topmost Authentication-Results counts) and on
 * header *multiplicity* (two From headers must be rejected). Libraries merge duplicates and reorder
 * by name, so every security decision in src/email/ works on this list instead.
 */

/** One header field as it appears in the message: unfolded, in original order, name as written. */
export interface HeaderLine {
  readonly name: string;
  /** The value after the colon, unfolded (CRLF before continuation whitespace removed), trimmed. */
  readonly value: string;
}

/** ftext per RFC 5322: printable ASCII except the colon. A name with a space is not a header. */
const HEADER_NAME = /^[!-9;-~]+$/;

/** The bytes before the first empty line (the whole message when there is none). */
export function headerSectionOf(raw: Buffer): Buffer {
  if (raw[0] === 0x0a || (raw[0] === 0x0d && raw[1] === 0x0a)) return raw.subarray(0, 0);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x0a) continue;
    const next = raw[i + 1];
    if (next === 0x0a || (next === 0x0d && raw[i + 2] === 0x0a)) return raw.subarray(0, i + 1);
  }
  return raw;
}

/**
 * Splits a header section into fields. Lines end at LF (a preceding CR is dropped); a bare CR is
 * not a line break, so it stays inside the value where the From check rejects it. Lines that are
 * not headers (an mbox `From ` line, junk) are skipped rather than glued onto a neighbour.
 */
export function parseHeaderSection(section: string): HeaderLine[] {
  const fields: { name: string; value: string }[] = [];
  let current: { name: string; value: string } | null = null;
  for (const rawLine of section.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      // A continuation of a skipped line (or of nothing) must not attach to anything else.
      if (current) current.value += line;
      continue;
    }
    current = null;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    // RFC 5322 obsolete syntax allows whitespace before the colon ("From : x"); accept it so that
    // such a header is counted like the MTA and mail clients count it.
    const name = withoutTrailingBlanks(line.slice(0, colon));
    if (!HEADER_NAME.test(name)) continue;
    current = { name, value: line.slice(colon + 1) };
    fields.push(current);
  }
  return fields.map((f) => ({ name: f.name, value: f.value.trim() }));
}

/**
 * Spaces and tabs off the end, by a scan: `/[ \t]+$/` retries from every blank of a long run that
 * is followed by something else, which is quadratic in the run.
 */
function withoutTrailingBlanks(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return text.slice(0, end);
}

/** Header fields of a raw message, in order. */
export function readHeaderLines(raw: Buffer): HeaderLine[] {
  return parseHeaderSection(headerSectionOf(raw).toString('utf8'));
}

/** Every value of a header, topmost first. Names compare case-insensitively. */
export function headerValues(lines: readonly HeaderLine[], name: string): string[] {
  const wanted = name.toLowerCase();
  return lines.filter((l) => l.name.toLowerCase() === wanted).map((l) => l.value);
}

/** The topmost value of a header, or null when absent. */
export function firstHeaderValue(lines: readonly HeaderLine[], name: string): string | null {
  const wanted = name.toLowerCase();
  for (const l of lines) if (l.name.toLowerCase() === wanted) return l.value;
  return null;
}
