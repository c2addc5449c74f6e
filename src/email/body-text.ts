/**
 * What the person actually wrote, without the quoted history their mail client appended. The
 * agent's session already holds the earlier turns; feeding the quotes back would repeat them.
 *
 * Deliberate choice: in plain text, quoted (`>`) lines are dropped but unquoted text after them is
 * kept, so inline (interleaved) answers survive. Outlook's "Original Message"/header blocks, which
 * quote without `>`, cut everything below them.
 */
import { compile } from 'html-to-text';

/** Elements that hold quoted history in the mail clients people use. */
const QUOTE_SELECTORS = [
  '.gmail_quote', // Gmail: the attribution and the quote
  '.gmail_quote_container',
  '.gmail_attr',
  'blockquote[type=cite]', // Apple Mail, Thunderbird
  'div.moz-cite-prefix', // Thunderbird's attribution line
  '.yahoo_quoted', // Yahoo
  '.protonmail_quote', // Proton Mail
  '#divRplyFwdMsg', // Outlook on the web / new Outlook: the From/Sent/To block
  '.OutlookMessageHeader',
];

/**
 * Outlook puts the quoted message *after* these markers as siblings, not inside them, so the HTML
 * is cut at the first one. Only a real start tag matches: text can't contain a literal `<div`.
 */
const CUT_HERE = /<[a-z][a-z0-9]*\b[^<>]*\bid\s*=\s*["']?(?:appendonsend|divRplyFwdMsg|mail-editor-reference-message-container)\b/i;

const convertHtml = compile({
  wordwrap: false,
  // Hostile HTML nests tens of thousands of elements; without a bound the converter recurses
  // until the stack overflows. Real mail is nowhere near; deeper content becomes "...".
  limits: { maxDepth: 1000 },
  selectors: [
    ...QUOTE_SELECTORS.map((selector) => ({ selector, format: 'skip' })),
    { selector: 'img', format: 'skip' },
    // Cells side by side as a text grid; the default layout format runs them together ("ab").
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false, maxColumnWidth: 80 } },
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
  ],
});

/** The reply text of an HTML body. */
export function htmlBodyToText(html: string): string {
  const cut = CUT_HERE.exec(html);
  const kept = cut ? html.slice(0, cut.index) : html;
  let text: string;
  try {
    text = convertHtml(kept);
  } catch {
    // html-to-text copes with any markup; this is for a limit or a bug, and tags are better than nothing.
    text = kept.replace(/<[^>]*>/g, ' ');
  }
  return tidy(removeAttributions(cutOutlookHistory(lines(text)), false));
}

/** The reply text of a plain-text body. */
export function plainBodyToText(text: string): string {
  const kept = removeAttributions(cutOutlookHistory(lines(text)), true).filter((l) => !isQuoted(l));
  return tidy(kept);
}

/** HTML preferred (it carries the clients' quote markers); plain text when HTML yields nothing. */
export function extractBodyText(body: { readonly html: string | null; readonly text: string | null }): string {
  if (body.html) {
    const fromHtml = htmlBodyToText(body.html);
    if (fromHtml !== '') return fromHtml;
  }
  return body.text ? plainBodyToText(body.text) : '';
}

function lines(text: string): string[] {
  return text.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ').split('\n');
}

function isQuoted(line: string): boolean {
  return line.startsWith('>');
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

const ORIGINAL_MESSAGE = /^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original)\s*-{2,}\s*$/i;
const SEPARATOR = /^\s*(?:_{10,}|-{10,})\s*$/;
const HEADER_FROM = /^\s*\*?(?:from|von|de)\s*:\*?\s+\S/i;
const HEADER_SENT = /^\s*\*?(?:sent|gesendet|envoyé|enviado)\s*:/i;
const HEADER_DATE = /^\s*\*?(?:date|datum)\s*:/i;
const HEADER_SUBJECT = /^\s*\*?(?:subject|betreff|objet|asunto)\s*:/i;

/**
 * Outlook quotes without `>`: everything from "-----Original Message-----" or from a
 * From:/Sent:/…/Subject: block on is history. A pasted set of mail headers uses Date:, not Sent:,
 * so a Date: block only counts right after Outlook's separator line.
 */
function cutOutlookHistory(input: string[]): string[] {
  for (let i = 0; i < input.length; i++) {
    const line = input[i] as string;
    if (isQuoted(line)) continue;
    if (ORIGINAL_MESSAGE.test(line)) return input.slice(0, i);
    if (!HEADER_FROM.test(line)) continue;
    const block = input.slice(i + 1, i + 7);
    const hasSubject = block.some((l) => HEADER_SUBJECT.test(l));
    let start = i;
    while (start > 0 && isBlank(input[start - 1] as string)) start--;
    const afterSeparator = start > 0 && SEPARATOR.test(input[start - 1] as string);
    const hasSent = block.some((l) => HEADER_SENT.test(l));
    const hasDate = block.some((l) => HEADER_DATE.test(l));
    if (hasSubject && (hasSent || (afterSeparator && hasDate))) {
      return input.slice(0, afterSeparator ? start - 1 : i);
    }
  }
  return input;
}

const ATTRIBUTION_START = /^\s*(?:on|am|le|el|il|op|em|den|på)\s/i;
// German puts the name after the verb: "Am … schrieb Alice <a@example.com>:".
const ATTRIBUTION_END = /(?:(?:wrote|writes|a écrit|escribió|ha scritto|schreef|escreveu|skrev)\s*:|\bschrieb\b.*:)\s*$/i;

/**
 * Removes "On <date>, <person> wrote:" lines (also when the client wrapped them over up to three
 * lines) that introduce a quote or end the text. An attribution-like sentence followed by the
 * author's own words is kept.
 */
function removeAttributions(input: string[], plain: boolean): string[] {
  const drop = new Set<number>();
  for (let end = 0; end < input.length; end++) {
    const last = input[end] as string;
    if (isQuoted(last) || !ATTRIBUTION_END.test(last)) continue;
    let start = end;
    for (let k = end - 1; k >= Math.max(0, end - 2); k--) {
      const prev = input[k] as string;
      if (isBlank(prev) || isQuoted(prev) || /[.!?]\s*$/.test(prev)) break;
      if (ATTRIBUTION_START.test(prev)) {
        start = k;
        break;
      }
    }
    const startsLikeAttribution = ATTRIBUTION_START.test(input[start] as string);
    let next = end + 1;
    while (next < input.length && isBlank(input[next] as string)) next++;
    const atEnd = next >= input.length;
    const beforeQuote = !atEnd && isQuoted(input[next] as string);
    // In HTML a quote the selectors missed shows up as `>` lines (a plain <blockquote>); there an
    // author may quote on purpose, so only a clear "On … wrote:" takes the block with it.
    const introducesQuote = beforeQuote && (plain || startsLikeAttribution);
    if ((atEnd && startsLikeAttribution) || introducesQuote) {
      for (let k = start; k <= end; k++) drop.add(k);
      if (introducesQuote) {
        for (let k = next; k < input.length && (isQuoted(input[k] as string) || isBlank(input[k] as string)); k++) {
          drop.add(k);
        }
      }
    }
  }
  return input.filter((_, i) => !drop.has(i));
}

/** Trailing whitespace off every line, at most one blank line in a row, no separator left at the end. */
function tidy(input: string[]): string {
  const out: string[] = [];
  for (const raw of input) {
    const line = raw.trimEnd();
    if (line === '' && (out.length === 0 || out[out.length - 1] === '')) continue;
    out.push(line);
  }
  while (out.length > 0) {
    const last = out[out.length - 1] as string;
    if (last === '' || /^[-_=*\s]+$/.test(last)) out.pop();
    else break;
  }
  return out.join('\n');
}
