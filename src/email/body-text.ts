/**
 * What the person actually wrote, without the quoted history their mail client appended. The
 * agent's session already holds the earlier turns; feeding the quotes back would repeat them.
 *
 * Deliberate choice: in plain text, quoted (`>`) lines are dropped but unquoted text after them is
 * kept, so inline (interleaved) answers survive. Outlook's "Original Message"/header blocks, which
 * quote without `>`, cut everything below them.
 */
import { compile } from 'html-to-text';
import { boundedTableFormatter } from './html-table.ts';
import {
  endsSentence,
  isAttributionEnd,
  isAttributionStart,
  isBlank,
  isHeaderDateLine,
  isHeaderFromLine,
  isHeaderSentLine,
  isHeaderSubjectLine,
  isOriginalMessageLine,
  isQuoted,
  isSeparatorLine,
  isSeparatorOnly,
} from './quote-markers.ts';

/**
 * The most characters of a body that are read: of the HTML part before conversion, and of the text
 * that quote stripping then works on. A mail can carry megabytes of text, and no prompt of that
 * size fits a model's context anyway; beyond this the text is cut and the prompt says so
 * (docs/email-protocol.md). Everything below is linear in its input, so the bound keeps the
 * runner's time per mail small, not merely finite.
 */
export const MAX_BODY_CHARS = 1_000_000;

/**
 * The most HTML tags that are converted; the HTML is cut before the next one. Real mail has a few
 * thousand at most (quoted history included); the bound keeps hostile nesting from making the
 * HTML parser slow (see `startOfTagBeyondBound`).
 */
export const MAX_HTML_ELEMENTS = 20_000;

/** Ends a body that was cut at MAX_BODY_CHARS, so that the agent (and the sender) know. */
export const BODY_CUT_NOTE = `[The mail's text was cut here: only its first ${MAX_BODY_CHARS.toLocaleString('en-US')} characters (and ${MAX_HTML_ELEMENTS.toLocaleString('en-US')} HTML tags) are read.]`;

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
 * Linear: a match starts only at `<` and `[^<>]*` cannot run past the next `<`, so no character is
 * scanned from more than one start (test/email/body-text.test.ts feeds it megabytes of tags).
 */
const CUT_HERE = /<[a-z][a-z0-9]*\b[^<>]*\bid\s*=\s*["']?(?:appendonsend|divRplyFwdMsg|mail-editor-reference-message-container)\b/i;

/** The HTML converter; `skipQuotes` leaves out the quoted history the clients mark. */
function htmlConverter(skipQuotes: boolean): (html: string) => string {
  return compile({
    wordwrap: false,
    // Beyond the bound the text is cut anyway; one more character makes that visible.
    formatters: { boundedTable: boundedTableFormatter(MAX_BODY_CHARS + 1) },
    // Hostile HTML nests tens of thousands of elements; without a bound the converter recurses
    // until the stack overflows. Real mail is nowhere near; deeper content becomes "...".
    limits: { maxDepth: 1000 },
    selectors: [
      ...(skipQuotes ? QUOTE_SELECTORS.map((selector) => ({ selector, format: 'skip' })) : []),
      { selector: 'img', format: 'skip' },
      // Cells side by side as a text grid (the default format runs them together: "ab"), laid out
      // by html-table.ts because html-to-text's own grid is quadratic.
      { selector: 'table', format: 'boundedTable', options: { maxColumnWidth: 80 } },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    ],
  });
}

const convertHtml = htmlConverter(true);
/** For the whole body: quotes kept (a `<blockquote>` becomes `>` lines). */
const convertHtmlWhole = htmlConverter(false);

/** The reply text of an HTML body: its first MAX_BODY_CHARS characters and MAX_HTML_ELEMENTS tags. */
export function htmlBodyToText(html: string): string {
  const converted = convertHtmlBody(html);
  return withCutNote(converted.text, converted.cut);
}

/** The reply text of a plain-text body (its first MAX_BODY_CHARS characters). */
export function plainBodyToText(text: string): string {
  const bounded = boundText(text);
  const kept = removeAttributions(cutOutlookHistory(lines(bounded.text)), true).filter((l) => !isQuoted(l));
  return withCutNote(tidy(kept), bounded.cut);
}

/**
 * HTML preferred (it carries the clients' quote markers); plain text when HTML yields nothing, or
 * when the HTML is beyond the bounds and the plain text may still be read whole.
 */
export function extractBodyText(body: { readonly html: string | null; readonly text: string | null }): string {
  if (body.html) {
    const fromHtml = convertHtmlBody(body.html);
    const plain = fromHtml.cut && body.text ? plainBodyToText(body.text) : '';
    if (plain !== '') return plain;
    if (fromHtml.text !== '') return withCutNote(fromHtml.text, fromHtml.cut);
  }
  return body.text ? plainBodyToText(body.text) : '';
}

/**
 * The whole text body as it arrived, quoted history included, for a person reading the request
 * (the dashboard's "original"): the plain-text part when there is one, else the HTML converted
 * to text without quote stripping. The same bounds as extractBodyText, a cut marked the same way.
 */
export function originalBodyText(body: { readonly html: string | null; readonly text: string | null }): string {
  if (body.text?.trim()) {
    // As written: line ends normalised, nothing else (blank lines and signatures stay).
    const bounded = boundText(body.text);
    return withCutNote(bounded.text.replace(/\r\n?/g, '\n').trimEnd(), bounded.cut);
  }
  if (!body.html) return '';
  const converted = boundedHtmlToText(body.html, convertHtmlWhole, false);
  return withCutNote(tidy(lines(converted.text)), converted.cut);
}

function convertHtmlBody(html: string): { text: string; cut: boolean } {
  const converted = boundedHtmlToText(html, convertHtml, true);
  const stripped = tidy(removeAttributions(cutOutlookHistory(lines(converted.text)), false));
  return { text: stripped, cut: converted.cut };
}

/**
 * HTML → text within MAX_BODY_CHARS and MAX_HTML_ELEMENTS; `cutOutlook` drops everything from
 * Outlook's reply marker on (quoted history, not a cut: `cut` stays false for it).
 */
function boundedHtmlToText(html: string, convert: (html: string) => string, cutOutlook: boolean): { text: string; cut: boolean } {
  const bounded = boundText(html);
  const outlook = cutOutlook ? CUT_HERE.exec(bounded.text) : null;
  let kept = outlook ? bounded.text.slice(0, outlook.index) : bounded.text;
  const tooManyTags = startOfTagBeyondBound(kept);
  if (tooManyTags !== null) kept = kept.slice(0, tooManyTags);
  let text: string;
  try {
    text = convert(kept);
  } catch {
    // html-to-text copes with any markup; this is for a limit or a bug, and tags are better than
    // nothing. `[^<>]`, not `[^>]`: a run of `<` without `>` must not be rescanned from each `<`.
    text = kept.replace(/<[^<>]*>/g, ' ');
  }
  // Conversion can lengthen the text (tables are padded into a grid), so the bound applies again.
  const converted = boundText(text);
  return { text: converted.text, cut: (bounded.cut && !outlook) || tooManyTags !== null || converted.cut };
}

const START_TAG = /<[a-z]/gi;

/**
 * Where the tag after the first MAX_HTML_ELEMENTS starts, or null when there are no more. The HTML
 * parser under html-to-text keeps its element stack with `unshift`, so its time grows with the
 * square of the nesting depth; counting tags (comments included, which only errs on the safe side)
 * bounds the depth without parsing.
 */
function startOfTagBeyondBound(html: string): number | null {
  START_TAG.lastIndex = 0;
  for (let n = 0; START_TAG.exec(html) !== null; n++) {
    if (n === MAX_HTML_ELEMENTS) return START_TAG.lastIndex - 2;
  }
  return null;
}

function boundText(text: string): { text: string; cut: boolean } {
  if (text.length <= MAX_BODY_CHARS) return { text, cut: false };
  // Not between the two halves of a surrogate pair.
  const end = /[\ud800-\udbff]/.test(text[MAX_BODY_CHARS - 1] as string) ? MAX_BODY_CHARS - 1 : MAX_BODY_CHARS;
  return { text: text.slice(0, end), cut: true };
}

function withCutNote(text: string, cut: boolean): string {
  return cut ? `${text}\n\n${BODY_CUT_NOTE}` : text;
}

function lines(text: string): string[] {
  return text.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ').split('\n');
}

/**
 * Outlook quotes without `>`: everything from "-----Original Message-----" or from a
 * From:/Sent:/…/Subject: block on is history. A pasted set of mail headers uses Date:, not Sent:,
 * so a Date: block only counts right after Outlook's separator line.
 */
function cutOutlookHistory(input: string[]): string[] {
  for (let i = 0; i < input.length; i++) {
    const line = input[i] as string;
    if (isQuoted(line)) continue;
    if (isOriginalMessageLine(line)) return input.slice(0, i);
    if (!isHeaderFromLine(line)) continue;
    const block = input.slice(i + 1, i + 7);
    const hasSubject = block.some(isHeaderSubjectLine);
    let start = i;
    while (start > 0 && isBlank(input[start - 1] as string)) start--;
    const afterSeparator = start > 0 && isSeparatorLine(input[start - 1] as string);
    const hasSent = block.some(isHeaderSentLine);
    const hasDate = block.some(isHeaderDateLine);
    if (hasSubject && (hasSent || (afterSeparator && hasDate))) {
      return input.slice(0, afterSeparator ? start - 1 : i);
    }
  }
  return input;
}

/**
 * Removes "On <date>, <person> wrote:" lines (also when the client wrapped them over up to three
 * lines) that introduce a quote or end the text. An attribution-like sentence followed by the
 * author's own words is kept.
 */
function removeAttributions(input: string[], plain: boolean): string[] {
  const drop = new Set<number>();
  for (let end = 0; end < input.length; end++) {
    const last = input[end] as string;
    if (isQuoted(last) || !isAttributionEnd(last)) continue;
    let start = end;
    for (let k = end - 1; k >= Math.max(0, end - 2); k--) {
      const prev = input[k] as string;
      if (isBlank(prev) || isQuoted(prev) || endsSentence(prev)) break;
      if (isAttributionStart(prev)) {
        start = k;
        break;
      }
    }
    const startsLikeAttribution = isAttributionStart(input[start] as string);
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
    if (last === '' || isSeparatorOnly(last)) out.pop();
    else break;
  }
  return out.join('\n');
}
