import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaderSection, readHeaderLines } from '../../src/email/headers.ts';
import { parseMessage } from '../../src/email/parse.ts';
import { screenMessage } from '../../src/email/screen.ts';
import { rawMessage } from './fixtures/messages.ts';

const policy = { fromAddress: 'airut@repo.example', trustedAuthservId: 'mx.repo.example', authorizedSenders: ['alice@example.com'] };

/** Deterministic junk: the same bytes on every run, so a failure can be reproduced. */
function junk(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

const garbage: [string, Buffer][] = [
  ['random bytes (1)', junk(1, 4096)],
  ['random bytes (2)', junk(2, 65536)],
  ['random bytes with a header-like start', Buffer.concat([Buffer.from('From: alice@example.com\r\n'), junk(3, 2000)])],
  ['an empty buffer', Buffer.alloc(0)],
  ['only a blank line', Buffer.from('\r\n\r\n')],
  ['headers only, no blank line', Buffer.from('From: alice@example.com\r\nSubject: hi')],
  ['headers and a blank line, no body', Buffer.from('From: alice@example.com\r\nSubject: hi\r\n\r\n')],
  ['a broken multipart boundary', rawMessage(['From: alice@example.com', 'Content-Type: multipart/mixed; boundary="XX"'], '--YY\r\nContent-Type: text/plain\r\n\r\nhello')],
  ['a multipart without boundary parameter', rawMessage(['From: alice@example.com', 'Content-Type: multipart/alternative'], 'hello')],
  ['an unclosed multipart', rawMessage(['From: alice@example.com', 'Content-Type: multipart/mixed; boundary=XX'], '--XX\r\nContent-Type: text/html\r\n\r\n<p>hi')],
  ['an unknown charset', rawMessage(['From: alice@example.com', 'Content-Type: text/plain; charset=x-no-such-charset'], 'h\u00e9llo')],
  ['8-bit bytes in headers', Buffer.concat([Buffer.from('From: J'), Buffer.from([0xe9, 0xff, 0xfe]), Buffer.from(' <alice@example.com>\r\nSubject: '), Buffer.from([0x80, 0x81, 0xc3]), Buffer.from('\r\n\r\nbody\r\n')])],
  ['NUL bytes in headers and body', Buffer.from('From: alice@example.com\u0000\r\nSubject: a\u0000b\r\n\r\n\u0000\u0000')],
  ['invalid base64', rawMessage(['From: alice@example.com', 'Content-Transfer-Encoding: base64'], '!!!not base64@@@')],
  ['invalid quoted-printable', rawMessage(['From: alice@example.com', 'Content-Transfer-Encoding: quoted-printable'], '=ZZ=\r\n=4')],
  ['a 1 MB header line', Buffer.from(`From: alice@example.com\r\nX-Long: ${'a'.repeat(1 << 20)}\r\n\r\nbody`)],
  ['200 nested multiparts', rawMessage(['From: alice@example.com', 'Content-Type: multipart/mixed; boundary=b0'], Array.from({ length: 200 }, (_, i) => `--b${i}\r\nContent-Type: multipart/mixed; boundary=b${i + 1}\r\n\r\n`).join(''))],
  ['an mbox From_ line first', Buffer.from('From MAILER-DAEMON Fri Jul  8 12:08:34 2011\r\nFrom: alice@example.com\r\n\r\nhi')],
  ['continuation lines before any header', Buffer.from('  folded: nothing\r\n\tmore\r\nFrom: alice@example.com\r\n\r\nhi')],
];

describe('parseMessage never throws', () => {
  for (const [name, raw] of garbage) {
    it(`on ${name}`, async () => {
      const parsed = await parseMessage(raw);
      assert.equal(typeof parsed.bodyText, 'string');
      assert.equal(typeof parsed.subject, 'string');
      assert.doesNotMatch(parsed.subject, /[\r\n\u0000]/);
      assert.deepEqual(structuredClone(parsed), parsed);
      const verdict = screenMessage(parsed, policy);
      assert.equal(verdict.action, 'reject');
    });
  }

  it('reports an empty message as having no headers and no sender', async () => {
    const parsed = await parseMessage(Buffer.alloc(0));
    assert.ok(parsed.problems.includes('the message has no headers'));
    assert.equal(parsed.from.ok, false);
    assert.equal(parsed.fromHeaderCount, 0);
  });

  it('skips an mbox From_ line rather than counting it as a From header', async () => {
    const parsed = await parseMessage(Buffer.from('From MAILER-DAEMON Fri Jul  8 12:08:34 2011\r\nFrom: alice@example.com\r\n\r\nhi'));
    assert.equal(parsed.fromHeaderCount, 1);
    assert.ok(parsed.from.ok && parsed.from.address === 'alice@example.com');
  });
});

describe('parseMessage on real-looking mail', () => {
  const raw = rawMessage(
    [
      'Return-Path: <alice@example.com>',
      'Authentication-Results: mx.repo.example;',
      '\tdmarc=pass header.from=example.com',
      'Received: from mail.example.com by mx.repo.example',
      'From: "Alice Example" <Alice@Example.com>',
      'To: Airut <airut+opus@repo.example>, Bob <bob@example.com>',
      'Cc: carol@example.com',
      'Delivered-To: airut+opus@repo.example',
      'Subject: =?utf-8?B?UmU6IFtJRDoxYTJiM2M0ZF0gR3LDvMOfZQ==?=',
      '  =?utf-8?Q?=0D=0ABcc:_mallory@evil.org?=',
      'Message-ID: <CAF-reply@mail.example.com>',
      'In-Reply-To: <airut.1a2b3c4d.1714989600.abc@repo.example>',
      'References: <first@mail.example.com>',
      ' <airut.1a2b3c4d.1714989600.abc@repo.example>',
      'Date: Mon, 6 May 2024 12:00:00 +0200',
      'Auto-Submitted: no',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer"',
    ],
    [
      '--outer',
      'Content-Type: multipart/alternative; boundary="alt"',
      '',
      '--alt',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Plain version.',
      '',
      '> quoted',
      '--alt',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<div dir="ltr">HTML version.</div><div class="gmail_quote">On Mon wrote:<blockquote class="gmail_quote">old</blockquote></div>',
      '--alt--',
      '--outer',
      'Content-Type: application/octet-stream; name="passwd"',
      'Content-Disposition: attachment; filename="../../etc/passwd"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('root:x:0:0\n').toString('base64'),
      '--outer',
      'Content-Type: message/rfc822',
      '',
      'From: someone@else.org',
      'Subject: inner',
      '',
      'inner body',
      '--outer--',
    ].join('\r\n'),
  );

  it('returns the fields the rest of the daemon needs', async () => {
    const parsed = await parseMessage(raw);
    assert.equal(parsed.messageId, '<CAF-reply@mail.example.com>');
    assert.equal(parsed.inReplyTo, '<airut.1a2b3c4d.1714989600.abc@repo.example>');
    assert.deepEqual(parsed.references, ['<first@mail.example.com>', '<airut.1a2b3c4d.1714989600.abc@repo.example>']);
    assert.equal(parsed.subject, 'Re: [ID:1a2b3c4d] Grüße Bcc: mallory@evil.org');
    assert.equal(parsed.fromHeaderCount, 1);
    assert.deepEqual(parsed.from, { ok: true, address: 'alice@example.com', displayName: 'Alice Example', raw: '"Alice Example" <Alice@Example.com>' });
    assert.deepEqual(parsed.to, ['airut+opus@repo.example', 'bob@example.com']);
    assert.deepEqual(parsed.cc, ['carol@example.com']);
    assert.deepEqual(parsed.deliveredTo, ['airut+opus@repo.example']);
    assert.equal(parsed.date, '2024-05-06T10:00:00.000Z');
    assert.equal(parsed.hasHtml, true);
    assert.equal(parsed.bodyText, 'HTML version.');
    assert.equal(parsed.autoSubmitted, 'no');
    assert.equal(parsed.returnPath, '<alice@example.com>');
    assert.equal(parsed.listId, null);
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.attachments, [
      { filename: '../../etc/passwd', contentType: 'application/octet-stream', size: 11, inline: false },
      { filename: null, contentType: 'message/rfc822', size: parsed.attachments[1]?.size, inline: false },
    ]);
    assert.deepEqual(structuredClone(parsed), parsed);
  });

  it('keeps header order and unfolds continuation lines', async () => {
    const parsed = await parseMessage(raw);
    assert.deepEqual(parsed.headerLines.slice(0, 3).map((h) => h.name), ['Return-Path', 'Authentication-Results', 'Received']);
    assert.equal(parsed.headerLines[1]?.value, 'mx.repo.example;\tdmarc=pass header.from=example.com');
  });

  it('is accepted by the screen with the model hint from the sub-address', async () => {
    const verdict = screenMessage(await parseMessage(raw), policy);
    assert.deepEqual(verdict, { action: 'accept', sender: 'alice@example.com', modelHint: 'opus' });
  });

  it('uses the plain text when there is no HTML part', async () => {
    const parsed = await parseMessage(rawMessage(['From: alice@example.com', 'Content-Type: text/plain'], 'Do it.\r\n\r\nOn Mon, Airut wrote:\r\n> old'));
    assert.equal(parsed.hasHtml, false);
    assert.equal(parsed.bodyText, 'Do it.');
  });
});

describe('raw header section', () => {
  it('ends at the first empty line, whatever the line endings', () => {
    assert.deepEqual(readHeaderLines(Buffer.from('A: 1\nB: 2\n\nC: 3\n')).map((h) => h.name), ['A', 'B']);
    assert.deepEqual(readHeaderLines(Buffer.from('A: 1\r\nB: 2\r\n\r\nC: 3\r\n')).map((h) => h.name), ['A', 'B']);
  });
  it('keeps duplicates in order', () => {
    assert.deepEqual(parseHeaderSection('X: 1\r\nY: 2\r\nX: 3\r\n'), [
      { name: 'X', value: '1' },
      { name: 'Y', value: '2' },
      { name: 'X', value: '3' },
    ]);
  });
});
