/**
 * Property-based tests (fast-check) of the parsers that read what a sender wrote: the header
 * section, the From address, Authentication-Results and quote stripping. For any input they return
 * a verdict and never throw; their verdicts keep the rules of issue 13 item 15 for any input, not
 * just the table cases; and no input built from their own syntax makes them super-linear (5 MB of
 * it, under the generous deadline of linear-time.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAuthenticationResults, verifyDmarc } from '../../src/email/authenticate.ts';
import { extractBodyText, htmlBodyToText, plainBodyToText } from '../../src/email/body-text.ts';
import { extractFromAddress, normalizeAddress } from '../../src/email/from-address.ts';
import { parseHeaderSection, readHeaderLines } from '../../src/email/headers.ts';
import { commentsOf } from '../../src/email/lexical.ts';
import { FIVE_MB, HostileTextRunner } from './linear-time.ts';

/** Fixed, so that a failure reproduces; fast-check prints the counterexample and its path. */
const SEED = 1313;
const RUNS = 400;

/** Text built from the parsers' own syntax, with arbitrary characters between the pieces. */
function syntax(tokens: readonly string[]): fc.Arbitrary<string> {
  const piece = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...tokens) }, { weight: 1, arbitrary: fc.string({ maxLength: 4, unit: 'binary' }) });
  return fc.array(piece, { maxLength: 40 }).map((parts) => parts.join(''));
}

const HEADER_TOKENS = ['From', 'From:', ':', ' ', '\t', '\r\n', '\n', '\r', '\r\n ', 'X-A: b', 'Subject: ', 'Authentication-Results:', '\r\n\r\n', 'a'];
const ADDRESS_TOKENS = ['alice', '@', 'alice@corp.example', 'corp.example', 'evil.example', '<', '>', '(', ')', '(<x@evil.example>)', '(x@evil.example)', '(Alice)', '"', '\\', ',', ';', ':', ' ', '.', '=?utf-8?q?A?=', 'Alice', '\r', '\u0000', 'é'];
const AUTH_TOKENS = ['mx.example.com', 'mx.example.com; ', 'evil.example', ';', ' ', 'dmarc', 'dmarc=', '=', '=pass', 'pass', 'fail', 'passthrough', 'not', '(', ')', '(c)', '"', '\\', '/1', 'header.from', 'header.from=example.com', 'example.com', 'spf', 'none', '.', '\t'];
const QUOTE_TOKENS = ['\n', '> ', '>', 'On Mon, Alice ', 'wrote:', 'schrieb', ' ', ':', '-----Original Message-----', 'From: a', 'Sent: x', 'Subject: y', 'Date: z', '__________', '-- ', '\r\n', 'Am ', 'a écrit :', '.'];
const HTML_TOKENS = ['<div>', '</div>', '<table>', '<tr>', '<td>', '<td colspan="9">', '</td>', '<blockquote type="cite">', '<div class="gmail_quote">', '<div id="appendonsend">', '<b>', '<br>', '<p>', '&amp;', '&nbsp;', 'text', ' ', '\n', '<', '>', '<!--', '-->', 'wrote:'];

const neverThrows = <T>(arb: fc.Arbitrary<T>, run: (input: T) => unknown): void => {
  fc.assert(
    fc.property(arb, (input) => {
      run(input);
    }),
    { numRuns: RUNS, seed: SEED },
  );
};

describe('no input makes a mail parser throw', () => {
  it('the header section reader', () => {
    neverThrows(fc.oneof(syntax(HEADER_TOKENS), fc.string({ unit: 'binary' })), (s) => {
      for (const line of parseHeaderSection(s)) assert.ok(line.name.length > 0 && !line.name.includes(':'));
      readHeaderLines(Buffer.from(s, 'latin1'));
    });
  });
  it('the From address reader', () => {
    neverThrows(fc.oneof(syntax(ADDRESS_TOKENS), fc.string({ unit: 'binary' })), (s) => {
      extractFromAddress([{ name: 'From', value: s }]);
      normalizeAddress(s);
    });
  });
  it('the Authentication-Results reader', () => {
    neverThrows(fc.oneof(syntax(AUTH_TOKENS), fc.string({ unit: 'binary' })), (s) => {
      parseAuthenticationResults(s);
      verifyDmarc([{ name: 'Authentication-Results', value: s }], 'mx.example.com', { fromDomain: 'example.com' });
    });
  });
  it('quote stripping, plain and HTML', () => {
    neverThrows(fc.tuple(fc.oneof(syntax(QUOTE_TOKENS), fc.string({ unit: 'binary' })), syntax(HTML_TOKENS)), ([text, html]) => {
      plainBodyToText(text);
      htmlBodyToText(html);
      extractBodyText({ html, text });
    });
  });
});

/** `dmarc=pass` as one token: after the start, whitespace or `;`; before the end, whitespace, `;` or `(`. */
const LITERAL_PASS = /(?:^|[\s;])dmarc=pass(?=[\s;(]|$)/i;

describe('the rules of issue 13, item 15 hold for any input', () => {
  it('a DMARC pass needs the literal token dmarc=pass in the topmost header', () => {
    fc.assert(
      fc.property(syntax(AUTH_TOKENS), (value) => {
        const verdict = verifyDmarc([{ name: 'Authentication-Results', value }], 'mx.example.com', { fromDomain: 'example.com' });
        if (verdict.ok) assert.match(value, LITERAL_PASS);
      }),
      { numRuns: RUNS * 5, seed: SEED },
    );
  });

  it('a comment anywhere inside dmarc=pass makes it no pass', () => {
    const token = 'dmarc=pass';
    fc.assert(
      fc.property(fc.integer({ min: 1, max: token.length - 1 }), fc.string({ maxLength: 12 }).map((s) => s.replace(/[()\\]/g, '')), fc.constantFrom('', ' '), (at, comment, gap) => {
        const value = `mx.example.com; ${token.slice(0, at)}${gap}(${comment})${gap}${token.slice(at)} header.from=example.com`;
        assert.equal(verifyDmarc([{ name: 'Authentication-Results', value }], 'mx.example.com', { fromDomain: 'example.com' }).ok, false, value);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('an accepted From header has no comment holding <, > or @', () => {
    fc.assert(
      fc.property(syntax(ADDRESS_TOKENS), (value) => {
        const verdict = extractFromAddress([{ name: 'From', value }]);
        if (verdict.ok) for (const c of commentsOf(value)) assert.doesNotMatch(c, /[<>@]/, value);
      }),
      { numRuns: RUNS * 5, seed: SEED },
    );
  });
});

describe('no input built from their own syntax makes these parsers super-linear', () => {
  const runner = new HostileTextRunner();
  after(() => runner.close());
  // A short generated pattern that starts with one of the parser's keywords, repeated to 5 MB and
  // spoiled at the end: the shape that makes a backtracking expression retry from every repetition.
  const families: [string[], readonly string[], readonly string[]][] = [
    [['parseHeaderSection'], ['From', 'X', ' '], HEADER_TOKENS],
    [['extractFromAddress'], ['(', '<', '"', '@'], ADDRESS_TOKENS],
    [['parseAuthenticationResults', 'verifyDmarc'], ['dmarc', ';', '(', '"'], AUTH_TOKENS],
    [['plainBodyToText'], ['schrieb ', 'wrote ', 'On ', 'From: ', '-----'], QUOTE_TOKENS.filter((t) => !t.includes('\n'))],
    [['htmlBodyToText'], ['<table>', '<td>', '<div>', '<b>', '<'], HTML_TOKENS],
  ];
  for (const [subjects, keywords, tokens] of families) {
    it(subjects.join(', '), async () => {
      // Every keyword, each followed by a few generated continuations and spoilers.
      const rest = fc.tuple(fc.array(fc.constantFrom(...tokens), { maxLength: 2 }), fc.constantFrom(...tokens, 'x'));
      for (const keyword of keywords) {
        for (const [more, suffix] of fc.sample(rest, { numRuns: 3, seed: SEED })) {
          for (const subject of subjects) await runner.run({ subject, input: { unit: keyword + more.join(''), size: FIVE_MB, suffix } });
        }
      }
    });
  }
});
