/**
 * A raw message → everything the runner needs to start a task: the listener's outline
 * (outline.ts) plus the author's text. Security-relevant facts come from our own reading of the
 * raw header section (header-facts.ts); mailparser is used for MIME bodies, attachments and
 * subject decoding only.
 *
 * Never throws: garbage in gives a description with empty fields and `problems` filled in, which
 * the screen then rejects (no From → malformed).
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { extractBodyText, originalBodyText } from './body-text.ts';
import { headerFacts, readHeaderSection, subjectLine } from './header-facts.ts';
import { MIME_LIMITS } from './mime-limits.ts';
import { isInlinePart, structureLimitOf } from './mime-structure.ts';
import type { MessageOutline } from './outline.ts';
import { problemText } from './text.ts';

export interface ParsedMessage extends MessageOutline {
  /** The author's text without quoted history (see body-text.ts); '' when there is none. */
  readonly bodyText: string;
  /** The whole text body as it arrived, quotes included (see originalBodyText); '' when there is none. */
  readonly originalText: string;
  readonly hasHtml: boolean;
}

/** What a task was asked, as task_requests keeps it (src/store/task-content.ts). */
export function requestTexts(parsed: Pick<ParsedMessage, 'bodyText' | 'originalText'>): { text: string; original: string } {
  return { text: parsed.bodyText, original: parsed.originalText };
}

export async function parseMessage(raw: Buffer): Promise<ParsedMessage> {
  const problems: string[] = [];
  const headerLines = readHeaderSection(raw, problems);

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
    problems.push(`the MIME structure could not be parsed: ${problemText(err)}`);
    structureLimit = structureLimitOf(err);
  }

  let bodyText = '';
  let originalText = '';
  const body = { html: mail?.html || null, text: mail?.text ?? null };
  try {
    bodyText = mail ? extractBodyText(body) : '';
    originalText = mail ? originalBodyText(body) : '';
  } catch (err) {
    problems.push(`the body text could not be extracted: ${problemText(err)}`);
  }

  return {
    ...headerFacts(headerLines),
    subject: subjectLine(typeof mail?.subject === 'string' ? mail.subject : null, headerLines),
    bodyText,
    originalText,
    hasHtml: Boolean(mail?.html),
    attachments: (mail?.attachments ?? []).map((a) => ({
      filename: typeof a.filename === 'string' ? a.filename : null,
      contentType: typeof a.contentType === 'string' ? a.contentType : 'application/octet-stream',
      size: typeof a.size === 'number' ? a.size : 0,
      inline: isInlinePart(a),
    })),
    problems,
    structureLimit,
  };
}
