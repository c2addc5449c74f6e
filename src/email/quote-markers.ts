/**
 * The line tests of quote stripping (body-text.ts): is this line an Outlook separator, a header of
 * a quoted message, an attribution ("On … wrote:")? Every line comes from a stranger and a line can
 * be megabytes long, so each test here runs in time linear in the line: the regular expressions are
 * anchored at the start (`^`, tried at one position only) and have no two quantifiers that can
 * share characters; what cannot be said that way ("ends with a verb and a colon", "contains the
 * word schrieb") is a scan from the end or a literal search. test/email/quote-markers.test.ts feeds
 * each of them megabytes of adversarial text.
 */

/** A line of quoted history (`> …`). */
export function isQuoted(line: string): boolean {
  return line.startsWith('>');
}

export function isBlank(line: string): boolean {
  return line.trim() === '';
}

const ORIGINAL_MESSAGE = /^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}\s*$/i;
const SEPARATOR = /^\s*(?:_{10,}|-{10,})\s*$/;
const HEADER_FROM = /^\s*\*?(?:from|von|de)\s*:\*?\s+\S/i;
const HEADER_SENT = /^\s*\*?(?:sent|gesendet|envoyé|enviado)\s*:/i;
const HEADER_DATE = /^\s*\*?(?:date|datum)\s*:/i;
const HEADER_SUBJECT = /^\s*\*?(?:subject|betreff|objet|asunto)\s*:/i;
const ATTRIBUTION_START = /^\s*(?:on|am|le|el|il|op|em|den|på)\s/i;
/** Only punctuation, dashes and whitespace: a separator left at the end of the text. */
const SEPARATOR_ONLY = /^[-_=*\s]+$/;

/** `-----Original Message-----` (also in German, French and Spanish). */
export function isOriginalMessageLine(line: string): boolean {
  return ORIGINAL_MESSAGE.test(line);
}

/** A long `____` or `----` line, as Outlook puts above a quoted header block. */
export function isSeparatorLine(line: string): boolean {
  return SEPARATOR.test(line);
}

export function isHeaderFromLine(line: string): boolean {
  return HEADER_FROM.test(line);
}

export function isHeaderSentLine(line: string): boolean {
  return HEADER_SENT.test(line);
}

export function isHeaderDateLine(line: string): boolean {
  return HEADER_DATE.test(line);
}

export function isHeaderSubjectLine(line: string): boolean {
  return HEADER_SUBJECT.test(line);
}

/** The first line of an attribution: "On …", "Am …", "Le …". */
export function isAttributionStart(line: string): boolean {
  return ATTRIBUTION_START.test(line);
}

export function isSeparatorOnly(line: string): boolean {
  return SEPARATOR_ONLY.test(line);
}

/** The line ends a sentence (`.`, `!` or `?` before trailing whitespace). */
export function endsSentence(line: string): boolean {
  const last = line.trimEnd().slice(-1);
  return last === '.' || last === '!' || last === '?';
}

/** Verbs that end an attribution right before its colon ("Alice wrote:", "Alice a écrit :"). */
const ATTRIBUTION_VERBS = ['wrote', 'writes', 'a écrit', 'escribió', 'ha scritto', 'schreef', 'escreveu', 'skrev'];
const LONGEST_VERB = Math.max(...ATTRIBUTION_VERBS.map((v) => v.length));
/**
 * German puts the name after the verb: "Am … schrieb Alice <a@example.com>:". A literal word
 * search; the colon is checked at the end of the line, not found by a `.*` that backtracks.
 */
const SCHRIEB = /\bschrieb\b/i;

/**
 * The last line of an attribution: it ends with a colon (then only whitespace), and before the
 * colon comes one of the verbs, or the word "schrieb" appears anywhere before it.
 */
export function isAttributionEnd(line: string): boolean {
  const trimmed = line.trimEnd();
  if (!trimmed.endsWith(':')) return false;
  const beforeColon = trimmed.slice(0, -1);
  // Only the tail can hold the verb; lowercasing a megabyte line for it would be waste.
  const tail = beforeColon.trimEnd().slice(-LONGEST_VERB).toLowerCase();
  if (ATTRIBUTION_VERBS.some((verb) => tail.endsWith(verb))) return true;
  return SCHRIEB.test(beforeColon);
}
