import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaderSection, readHeaderLines } from '../../src/email/headers.ts';
import { parseMessage, requestTexts } from '../../src/email/parse.ts';
import { screenMessage } from '../../src/email/screen.ts';
import { garbageMessages, rawMessage } from './fixtures/messages.ts';

const policy = { fromAddress: 'airut@repo.example', trustedAuthservId: 'mx.repo.example', microsoftInternalFallback: false, authorizedSenders: ['alice@example.com'] };

describe('parseMessage never throws', () => {
  for (const [name, raw] of garbageMessages()) {
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

describe('parseMessage: the request texts', () => {
  it('gives the stripped text the agent reads and the whole text body, from one parse', async () => {
    const raw = Buffer.from(
      'From: alice@example.com\r\nSubject: Re: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
        'Please add tests.\r\n\r\nOn Mon, May 6, 2024 Airut wrote:\r\n> I fixed the build.\r\n',
    );
    const parsed = await parseMessage(raw);
    assert.equal(parsed.bodyText, 'Please add tests.');
    assert.equal(parsed.originalText, 'Please add tests.\n\nOn Mon, May 6, 2024 Airut wrote:\n> I fixed the build.');
    assert.deepEqual(requestTexts(parsed), { text: parsed.bodyText, original: parsed.originalText });
  });

  it('gives both empty for a mail that cannot be parsed into a body', async () => {
    const parsed = await parseMessage(Buffer.alloc(0));
    assert.deepEqual(requestTexts(parsed), { text: '', original: '' });
  });
});
