/**
 * Issue 13, item 14: every parser of mail text finishes 5 MB of hostile input in time linear in
 * it. Each input repeats a piece of the parsers' own syntax (the words quote stripping looks for,
 * comment and quote characters, tag openers, reply prefixes) that makes a backtracking regular
 * expression retry from every position, and ends in a character that spoils the match at the end,
 * which is what turned `\bschrieb\b.*:` and its siblings quadratic: 80 KB took 0.8 s, 5 MB hours.
 */
import { after, describe, it } from 'node:test';
import { FIVE_MB, HostileTextRunner } from './linear-time.ts';
import { SUBJECTS } from './mail-text-subjects.ts';

/**
 * Pieces of syntax, by the parsers that read them: the ones that start a match of their
 * expressions (or a state of their scanners) and keep it going.
 */
const QUOTE = ['schrieb ', 'wrote :', ' ', '-', '. ', 'from: ', '-- original message '];
/** A unit alone, or with what comes before the run and what spoils it at the end. */
type Piece = string | { readonly prefix: string; readonly unit: string; readonly suffix: string };

const HEADER: Piece[] = [' ', ':', 'From: x\r\n', '\r\n ', { prefix: 'X', unit: ' ', suffix: 'y: v\r\n' }];
const ADDRESS = ['(', '<', '@', '"', '\\', ' '];
const AUTH_RESULTS = ['dmarc=', '; dmarc=pass', '(', '"', ' ='];
const THREADING: Piece[] = ['re ', 'Re: ', '[ID:', '(2)', '<a', 'a@', 'airut.0123abcd.', { prefix: 're', unit: ' ', suffix: 'x' }, { prefix: '', unit: 'a@', suffix: 'a<' }];
const HTML = ['<', '<b>', '<svg>', '<td>', '<tr><td>a</td><td>b</td></tr>', '<a id ', '<td colspan="99999999" rowspan="99999">'];

const FAMILY: Record<string, readonly Piece[]> = {
  plainBodyToText: [...QUOTE, 'On x\nschrieb :\n> a\n', 'wrote:\n\n'],
  htmlBodyToText: HTML,
  extractBodyText: ['<b>', 'schrieb '],
  tableToText: [',', '|', 'a\na,'],
  parseHeaderSection: HEADER,
  readHeaderLines: HEADER,
  extractFromAddress: ADDRESS,
  normalizeAddress: ['a@', '.', 'a.'],
  parseAuthenticationResults: AUTH_RESULTS,
  verifyDmarc: AUTH_RESULTS,
  'headerFacts.Message-ID': ['<', 'a@'],
  'headerFacts.References': ['<', 'a@', ', ', { prefix: '', unit: 'a@', suffix: 'a<' }],
  'headerFacts.To': ADDRESS,
  'headerFacts.Date': ['(', ' '],
  'headerFacts.Subject': ['=?', '=?utf-8?b?', '?= =?'],
  'headerFacts.Return-Path': ['<', '('],
  'detectLoop.Return-Path': ['<', '(', ' '],
  'detectLoop.Auto-Submitted': ['(', ' ;'],
  'detectLoop.Content-Type': ['(', ' ;'],
  subjectLine: ['=?', '=?x?q?', '?= =?', ' '],
  stripComments: ADDRESS,
  commentsOf: ADDRESS,
  skipCfws: [' ', '(', '\\'],
  splitTopLevel: ADDRESS,
  words: ['"', ' =', '\\'],
  unquote: ['"', '\\'],
  decodeMimeWords: ['=?', '=?x?q?', '=?x?q?=', '?= ', '=?utf-8*'],
  singleLine: [' ', '\u0000'],
  printable: [' '],
  extractMessageIds: THREADING,
  conversationIdFromMessageId: THREADING,
  extractSubjectTag: THREADING,
  stripReplyPrefixes: THREADING,
  subAddressHint: ['bot+', '@'],
  safeFileName: ['. ', '/', '..', ' ', { prefix: 'a', unit: '. ', suffix: 'b' }],
  normalizeMessageId: THREADING,
  baseSubject: THREADING,
  cleanHeaderText: [' ', '\u0000 '],
  parseMessage: ['schrieb ', '=\r\n', '\r\n'],
  parseHtmlMessage: ['<b>', '<td>'],
};

const runner = new HostileTextRunner();
after(() => runner.close());

describe('every parser of mail text takes 5 MB of hostile input in linear time (issue 13, item 14)', () => {
  for (const subject of Object.keys(SUBJECTS)) {
    const units = subject.startsWith('quote-markers.') ? [...QUOTE, ':', '\t'] : FAMILY[subject];
    it(`${subject}`, async () => {
      if (!units) throw new Error(`no hostile inputs listed for ${subject}: add them to FAMILY`);
      for (const piece of units) {
        // By default an `x` spoils a match at the very end, after every retry has scanned the run.
        const input = typeof piece === 'string' ? { unit: piece, suffix: 'x' } : piece;
        await runner.run({ subject, input: { ...input, size: FIVE_MB } });
      }
    });
  }
});
