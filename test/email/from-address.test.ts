import { test } from 'node:test';
import assert from 'node:assert/strict';
import { senderLine } from '../../src/email/from-address.ts';
import { parseMessage } from '../../src/email/parse.ts';

const mail = (from: string) => Buffer.from(`From: ${from}\r\nTo: bot@repo.example\r\nSubject: s\r\nMessage-ID: <m@example.com>\r\n\r\nhi\r\n`);

test('senderLine: the From header as the prompt shows it — the decoded name and the address, or the address alone', async () => {
  assert.equal(senderLine((await parseMessage(mail('Alice Example <Alice@Example.com>'))).from, 'x'), 'Alice Example <alice@example.com>');
  assert.equal(senderLine((await parseMessage(mail('=?UTF-8?Q?J=C3=BCrgen?= <j@example.com>'))).from, 'x'), 'Jürgen <j@example.com>');
  assert.equal(senderLine((await parseMessage(mail('bob@example.com'))).from, 'x'), 'bob@example.com');
  // An unreadable header gives the task's own sender address, never a guess.
  assert.equal(senderLine({ ok: false, reason: 'the message has 2 From headers', raw: null }, 'alice@example.com'), 'alice@example.com');
  assert.equal(senderLine({ ok: true, address: 'a@example.com', displayName: '  Two\tWords ', raw: '' }, 'x'), 'Two Words <a@example.com>');
});
