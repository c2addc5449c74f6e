import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHeaderSection } from '../../src/email/headers.ts';
import { detectLoop } from '../../src/email/loop-guard.ts';

const own = 'bot@repo.example';
const check = (sender: string | null, headers = '') => detectLoop({ sender, headerLines: parseHeaderSection(headers) }, own);

describe('detectLoop', () => {
  it('lets ordinary mail through', () => {
    assert.equal(check('alice@example.com', 'Return-Path: <alice@example.com>\nAuto-Submitted: no (manual)\nPrecedence: first-class\n'), null);
  });
  const looping: [string, string | null, string][] = [
    ['our own address', own, ''],
    ['our own sub-address', 'bot+opus@repo.example', ''],
    ['MAILER-DAEMON', 'MAILER-DAEMON@mx.example.com', ''],
    ['postmaster', 'Postmaster@example.com', ''],
    ['empty Return-Path', 'alice@example.com', 'Return-Path: <>\n'],
    ['empty Return-Path with spaces', 'alice@example.com', 'Return-Path: < >\n'],
    ['Return-Path of a daemon', 'alice@example.com', 'Return-Path: <MAILER-DAEMON@mx.example.com>\n'],
    ['Auto-Submitted: auto-replied', 'alice@example.com', 'Auto-Submitted: auto-replied\n'],
    ['Auto-Submitted: auto-generated with parameters', 'alice@example.com', 'Auto-Submitted: auto-generated; owner-email="x@y"\n'],
    ['a second Auto-Submitted that is not no', 'alice@example.com', 'Auto-Submitted: no\nAuto-Submitted: auto-replied\n'],
    ['X-Autoreply', 'alice@example.com', 'X-Autoreply: yes\n'],
    ['List-Id', 'alice@example.com', 'List-Id: <dev.lists.example.com>\n'],
    ['Precedence: bulk', 'alice@example.com', 'Precedence: bulk\n'],
    ['Precedence: LIST', 'alice@example.com', 'Precedence: LIST\n'],
    ['Precedence: junk', 'alice@example.com', 'Precedence: junk\n'],
    ['a delivery report', 'alice@example.com', 'Content-Type: multipart/report; report-type=delivery-status; boundary=x\n'],
  ];
  for (const [name, sender, headers] of looping) {
    it(`stops ${name}`, () => {
      const reason = check(sender, headers);
      assert.ok(reason !== null && reason.length > 10, String(reason));
    });
  }
  it('does not mistake a similar address for our own', () => {
    assert.equal(check('bot@repo.example.org'), null);
    assert.equal(check('robot@repo.example'), null);
    assert.equal(check('bot+x@evil.example'), null);
  });
});
