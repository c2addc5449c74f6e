/**
 * The listener's MIME reader (outline.ts over mime-structure.ts) must list the same attachments,
 * sizes and structure limits as the runner's mailparser parse (parse.ts): the listener checks the
 * limits on its list, the runner saves what mailparser finds. Held together over every corpus the
 * tests have, plus the structures where mailparser's rules matter.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outlineMessage } from '../../src/email/outline.ts';
import { parseMessage } from '../../src/email/parse.ts';
import { MIME_LIMITS } from '../../src/email/mime-limits.ts';
import { hostileCorpus } from '../fixtures/hostile/corpus.ts';
import { garbageMessages, rawMessage } from './fixtures/messages.ts';

const FROM = 'From: alice@example.com';
const b64 = (s: string | Buffer): string => (Buffer.isBuffer(s) ? s : Buffer.from(s)).toString('base64').replace(/.{76}/g, '$&\r\n');

function multipart(type: string, boundary: string, parts: string[]): { head: string; body: string } {
  return { head: `Content-Type: multipart/${type}; boundary="${boundary}"`, body: parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('') + `--${boundary}--` };
}

function structures(): [string, Buffer][] {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  const related = multipart('related', 'rel', [
    'Content-Type: text/html; charset=utf-8\r\n\r\n<p>logo: <img src="cid:logo@x"></p>',
    `Content-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(png)}`,
    `Content-Type: image/png; name="named.png"\r\nContent-ID: <named@x>\r\nContent-Disposition: attachment; filename="named.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(png)}`,
  ]);
  const inner = multipart('mixed', 'inner', [
    'Content-Type: text/plain\r\n\r\ninner text',
    `Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="inner.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64('%PDF-1.4 inner')}`,
  ]);
  const big = Buffer.alloc(300_000, 7);
  const cases: [string, string, string][] = [
    ['multipart/related with a cid image and a named one', related.head, related.body],
    ['an octet-stream whose name says PNG', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n--m\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="shot.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(png)}\r\n--m--`],
    ['an embedded message with an attachment inside', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: bob@example.com\r\nSubject: inner\r\n${inner.head}\r\n\r\n${inner.body}\r\n--m--`],
    ['an embedded message shown inline (opened up by the reader)', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--m\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\nFrom: bob@example.com\r\nSubject: inner\r\n${inner.head}\r\n\r\n${inner.body}\r\n--m--`],
    ['an embedded message marked as an attachment', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nfwd\r\n--m\r\nContent-Type: message/rfc822; name="fwd.eml"\r\nContent-Disposition: attachment; filename="fwd.eml"\r\n\r\nFrom: bob@example.com\r\nSubject: old\r\n\r\nold body\r\n--m--`],
    ['a delivery report', 'Content-Type: multipart/report; report-type=delivery-status; boundary=r', `--r\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; x@y\r\nAction: failed\r\n--r\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: x\r\n--r--`],
    ['an unknown disposition', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n--m\r\nContent-Type: text/plain\r\nContent-Disposition: x-weird; filename="w.txt"\r\n\r\nweird\r\n--m--`],
    ['a text part sent as an attachment', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n--m\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: attachment; filename="notes.txt"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve =\r\nline\r\n--m--`],
    ['an inline image without a name', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n--m\r\nContent-Type: image/gif\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n--m--`],
    ['an 8-bit attachment and a binary one', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n--m\r\nContent-Type: application/x-data\r\nContent-Transfer-Encoding: 8bit\r\n\r\nd\u00e9j\u00e0 vu\r\n--m\r\nContent-Type: application/x-bin\r\n\r\n\u0001\u0002\u0003\r\n--m--`],
    ['a 300 kB base64 attachment (split across many chunks)', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nbig\r\n--m\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename="big.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(big)}\r\n--m--`],
    ['a single-part attachment at the root', 'Content-Type: application/pdf; name="root.pdf"\r\nContent-Transfer-Encoding: base64', b64('%PDF-1.4 root')],
    ['an RFC 2231 name in three pieces', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n--m\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''r%C3%A9;\r\n filename*1*=sum%C3%A9;\r\n filename*2=.txt\r\n\r\nx\r\n--m--`],
    ['an encoded-word subject in a Latin-1 charset', 'Subject: =?iso-8859-1?Q?Gr=FC=DFe?= aus =?utf-8?B?8J+Ygg==?=', 'hi'],
    [`${MIME_LIMITS.maxChildNodes + 5} parts (over the reader's bound)`, 'Content-Type: multipart/mixed; boundary=m', `${Array.from({ length: MIME_LIMITS.maxChildNodes + 5 }, (_, i) => `--m\r\nContent-Type: application/x-n\r\n\r\n${i}\r\n`).join('')}--m--`],
    ['a part header over the reader\'s bound', 'Content-Type: multipart/mixed; boundary=m', `--m\r\nContent-Type: text/plain\r\n${Array.from({ length: 40_000 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(20)}`).join('\r\n')}\r\n\r\nhi\r\n--m--`],
  ];
  return cases.map(([name, head, body]) => [name, rawMessage([FROM, 'Subject: structure', 'MIME-Version: 1.0', ...head.split('\r\n')], body)]);
}

function allMessages(): [string, Buffer][] {
  return [
    ...structures(),
    ...garbageMessages().map(([name, raw]): [string, Buffer] => [`garbage: ${name}`, raw]),
    ...hostileCorpus().map((m): [string, Buffer] => [`hostile: ${m.id}`, m.raw]),
  ];
}

const mimeProblem = (problems: readonly string[]): boolean => problems.some((p) => p.startsWith('the MIME structure'));

describe('the listener outline agrees with the runner parse', () => {
  for (const [name, raw] of allMessages()) {
    it(name, async () => {
      const outline = await outlineMessage(raw);
      const { bodyText: _body, originalText: _original, hasHtml: _html, problems, ...full } = await parseMessage(raw);
      const { problems: outlineProblems, ...rest } = outline;
      assert.deepEqual(rest, full);
      assert.equal(mimeProblem(outlineProblems), mimeProblem(problems), `outline problems ${JSON.stringify(outlineProblems)} vs ${JSON.stringify(problems)}`);
      assert.deepEqual(structuredClone(outline), outline);
    });
  }
});

describe('readMimeStructure facts', () => {
  const byName = new Map(structures());

  it('counts decoded bytes, not encoded ones', async () => {
    const outline = await outlineMessage(byName.get('a 300 kB base64 attachment (split across many chunks)')!);
    assert.deepEqual(outline.attachments, [{ filename: 'big.zip', contentType: 'application/zip', size: 300_000, inline: false }]);
  });

  it('marks a cid image inside multipart/related as inline, and a named one sent as an attachment too (mailparser\'s rule)', async () => {
    const outline = await outlineMessage(byName.get('multipart/related with a cid image and a named one')!);
    assert.deepEqual(outline.attachments.map((a) => [a.filename, a.inline]), [[null, true], ['named.png', true]]);
  });

  it('lists the attachments inside an embedded message shown inline, not the message itself', async () => {
    const outline = await outlineMessage(byName.get('an embedded message shown inline (opened up by the reader)')!);
    assert.deepEqual(outline.attachments.map((a) => [a.filename, a.contentType, a.size]), [['inner.pdf', 'application/pdf', 14]]);
  });

  it('names a structure over its bounds', async () => {
    const parts = await outlineMessage(byName.get(`${MIME_LIMITS.maxChildNodes + 5} parts (over the reader's bound)`)!);
    assert.equal(parts.structureLimit, 'parts');
    assert.deepEqual(parts.attachments, []);
    const header = await outlineMessage(byName.get("a part header over the reader's bound")!);
    assert.equal(header.structureLimit, 'header');
  });

  it('counts an embedded message as one attachment, as mailparser does, not the parts inside it', async () => {
    const outline = await outlineMessage(byName.get('an embedded message with an attachment inside')!);
    assert.deepEqual(outline.attachments.map((a) => [a.filename, a.contentType]), [[null, 'message/rfc822']]);
  });
});
