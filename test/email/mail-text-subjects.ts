/**
 * Every function of ours that reads text a mail's sender chose, each taking that text as one
 * string, so that the linear-time tests (linear-time.ts) can feed each of them the same hostile
 * inputs. A parser that reads mail text and is not listed here is not covered by them.
 */
import { verifyDmarc, parseAuthenticationResults } from '../../src/email/authenticate.ts';
import { extractBodyText, htmlBodyToText, plainBodyToText } from '../../src/email/body-text.ts';
import { extractFromAddress, normalizeAddress } from '../../src/email/from-address.ts';
import { headerFacts, subjectLine } from '../../src/email/header-facts.ts';
import { parseHeaderSection, readHeaderLines, type HeaderLine } from '../../src/email/headers.ts';
import { tableToText } from '../../src/email/html-table.ts';
import { commentsOf, skipCfws, splitTopLevel, stripComments, unquote, words } from '../../src/email/lexical.ts';
import { detectLoop } from '../../src/email/loop-guard.ts';
import { subAddressHint } from '../../src/email/model-hint.ts';
import { parseMessage } from '../../src/email/parse.ts';
import * as quoteMarkers from '../../src/email/quote-markers.ts';
import { decodeMimeWords, printable, singleLine } from '../../src/email/text.ts';
import { conversationIdFromMessageId, extractMessageIds, extractSubjectTag, stripReplyPrefixes } from '../../src/email/threading.ts';
import { safeFileName } from '../../src/conversation/filename.ts';
import { normalizeMessageId } from '../../src/reply/compose.ts';
import { baseSubject, cleanHeaderText } from '../../src/reply/subject.ts';

type Subject = (input: string) => unknown;

const header = (name: string, value: string): HeaderLine[] => [{ name, value }];

const markerSubjects: Record<string, Subject> = {};
for (const [name, fn] of Object.entries(quoteMarkers)) {
  if (typeof fn === 'function') markerSubjects[`quote-markers.${name}`] = fn as Subject;
}

/** Each header the header facts are read from, one at a time (they take different parsers). */
const factSubjects: Record<string, Subject> = {};
for (const name of ['Message-ID', 'References', 'To', 'Date', 'Subject', 'Return-Path']) {
  factSubjects[`headerFacts.${name}`] = (s) => headerFacts(header(name, s));
}

/** The headers the loop guard reads, one at a time. */
const loopSubjects: Record<string, Subject> = {};
for (const name of ['Return-Path', 'Auto-Submitted', 'Content-Type']) {
  loopSubjects[`detectLoop.${name}`] = (s) => detectLoop({ sender: 'alice@example.com', headerLines: header(name, s) }, 'bot@example.com');
}

export const SUBJECTS: Record<string, Subject> = {
  ...markerSubjects,
  plainBodyToText,
  htmlBodyToText,
  extractBodyText: (s) => extractBodyText({ html: s, text: s }),
  tableToText: (s) => tableToText(s.split('|').map((row) => row.split(',').map((text) => ({ text }))), 1_000_001),
  parseHeaderSection,
  readHeaderLines: (s) => readHeaderLines(Buffer.from(s)),
  extractFromAddress: (s) => extractFromAddress([{ name: 'From', value: s }]),
  normalizeAddress,
  parseAuthenticationResults,
  verifyDmarc: (s) => verifyDmarc([{ name: 'Authentication-Results', value: s }], 'mx.example.com', { fromDomain: 'example.com' }),
  ...factSubjects,
  subjectLine: (s) => subjectLine(null, [{ name: 'Subject', value: s }]),
  ...loopSubjects,
  stripComments,
  commentsOf,
  skipCfws: (s) => skipCfws(s),
  splitTopLevel: (s) => splitTopLevel(s, ';'),
  words,
  unquote,
  decodeMimeWords,
  singleLine,
  printable,
  extractMessageIds,
  conversationIdFromMessageId,
  extractSubjectTag,
  stripReplyPrefixes,
  subAddressHint: (s) => subAddressHint(s, 'bot@example.com'),
  safeFileName,
  normalizeMessageId,
  baseSubject,
  cleanHeaderText,
  parseMessage: (s) => parseMessage(Buffer.from(`From: alice@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${s}`)),
  parseHtmlMessage: (s) => parseMessage(Buffer.from(`From: alice@example.com\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${s}`)),
};
