/**
 * Authentication and authorization, end to end from raw bytes: parseMessage → screenMessage.
 * Each row is a message someone could actually send; the expectation is what the repo does with it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage } from '../../src/email/parse.ts';
import { screenMessage, type ScreeningPolicy } from '../../src/email/screen.ts';
import { ORDINARY_HEADERS, rawMessage } from './fixtures/messages.ts';

const policy: ScreeningPolicy = {
  fromAddress: 'airut@repo.example',
  trustedAuthservId: 'mx.repo.example',
  microsoftInternalFallback: false,
  authorizedSenders: ['alice@example.com', '*@trusted.org'],
};

const PASS = 'Authentication-Results: mx.repo.example; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com';
const ALICE = 'From: Alice <alice@example.com>';

interface Case {
  name: string;
  headers: string[];
  body?: string;
  expect: 'accept' | 'auth_failed' | 'unauthorized' | 'loop' | 'malformed';
  sender?: string | null;
  modelHint?: string | null;
}

const cases: Case[] = [
  // --- accepted ---
  { name: 'trusted dmarc=pass from an allowed address', headers: [PASS, ALICE], expect: 'accept', sender: 'alice@example.com' },
  { name: 'uppercase DMARC=PASS and authserv-id', headers: ['Authentication-Results: MX.REPO.EXAMPLE; DMARC=PASS header.from=example.com', ALICE], expect: 'accept' },
  { name: 'authserv-id with a version number', headers: ['Authentication-Results: mx.repo.example 1; dmarc=pass', ALICE], expect: 'accept' },
  {
    name: 'comments everywhere',
    headers: ['Authentication-Results: mx.repo.example (Postfix 3.7; verified); spf=pass (sender SPF authorized) smtp.mailfrom=example.com; dmarc=pass (p=reject dis=none) header.from=example.com', ALICE],
    expect: 'accept',
  },
  {
    name: 'folded header with dmarc=pass on a continuation line',
    headers: ['Authentication-Results: mx.repo.example;\r\n\tspf=pass smtp.mailfrom=example.com;\r\n  dmarc=pass\r\n header.from=example.com', ALICE],
    expect: 'accept',
  },
  { name: 'spaces around "=" in a property (RFC 8601 CFWS)', headers: ['Authentication-Results: mx.repo.example; dmarc=pass header.from = example.com', ALICE], expect: 'accept' },
  { name: 'quoted authserv-id', headers: ['Authentication-Results: "mx.repo.example"; dmarc=pass', ALICE], expect: 'accept' },
  { name: 'header name in lower case', headers: ['authentication-results: mx.repo.example; dmarc=pass', ALICE], expect: 'accept' },
  { name: 'wildcard domain sender', headers: ['Authentication-Results: mx.repo.example; dmarc=pass header.from=trusted.org', 'From: bob@trusted.org'], expect: 'accept', sender: 'bob@trusted.org' },
  { name: 'sender address in mixed case', headers: [PASS, 'From: Alice <Alice@Example.COM>'], expect: 'accept', sender: 'alice@example.com' },
  { name: 'bare address with a comment', headers: [PASS, 'From: alice@example.com (Alice at work)'], expect: 'accept', sender: 'alice@example.com' },
  { name: 'Auto-Submitted: no is a person', headers: [PASS, ALICE, 'Auto-Submitted: no'], expect: 'accept' },
  { name: '+opus sub-address gives a model hint', headers: [PASS, ALICE, 'To: Airut <airut+opus@repo.example>'], expect: 'accept', modelHint: 'opus' },
  { name: 'ARC results are not Authentication-Results', headers: [PASS, 'ARC-Authentication-Results: i=1; mx.google.com; dmarc=fail', ALICE], expect: 'accept' },

  // --- DMARC ---
  { name: 'no Authentication-Results header', headers: [ALICE], expect: 'auth_failed' },
  { name: 'dmarc=fail', headers: ['Authentication-Results: mx.repo.example; dmarc=fail header.from=example.com', ALICE], expect: 'auth_failed' },
  { name: 'dmarc=none', headers: ['Authentication-Results: mx.repo.example; dmarc=none', ALICE], expect: 'auth_failed' },
  { name: 'dmarc=passthrough', headers: ['Authentication-Results: mx.repo.example; dmarc=passthrough', ALICE], expect: 'auth_failed' },
  // Only the literal token counts (issue 13, item 15): verifiers disagree on CFWS inside it.
  { name: 'spaces around "=" in the dmarc result', headers: ['Authentication-Results: mx.repo.example; dmarc = pass header.from=example.com', ALICE], expect: 'auth_failed' },
  { name: 'dmarc=(comment)pass', headers: ['Authentication-Results: mx.repo.example; dmarc=(comment)pass header.from=example.com', ALICE], expect: 'auth_failed' },
  { name: 'dmarc(comment)=pass', headers: ['Authentication-Results: mx.repo.example; dmarc(comment)=pass', ALICE], expect: 'auth_failed' },
  { name: 'From with an address in a comment', headers: [PASS, 'From: alice@example.com (<x@evil.example>)'], expect: 'malformed' },
  { name: 'dmarc=pass2', headers: ['Authentication-Results: mx.repo.example; dmarc=pass2', ALICE], expect: 'auth_failed' },
  { name: 'notdmarc=pass', headers: ['Authentication-Results: mx.repo.example; notdmarc=pass', ALICE], expect: 'auth_failed' },
  { name: 'xdmarc=pass', headers: ['Authentication-Results: mx.repo.example; xdmarc=pass', ALICE], expect: 'auth_failed' },
  { name: 'dmarc=pass only inside a comment', headers: ['Authentication-Results: mx.repo.example; spf=pass (dmarc=pass)', ALICE], expect: 'auth_failed' },
  { name: 'dmarc=pass only inside a comment, real result fail', headers: ['Authentication-Results: mx.repo.example (dmarc=pass); dmarc=fail', ALICE], expect: 'auth_failed' },
  { name: 'dmarc=pass as a property value', headers: ['Authentication-Results: mx.repo.example; spf=pass smtp.mailfrom=dmarc=pass', ALICE], expect: 'auth_failed' },
  { name: 'no result at all ("none")', headers: ['Authentication-Results: mx.repo.example; none', ALICE], expect: 'auth_failed' },
  { name: 'wrong authserv-id', headers: ['Authentication-Results: mx.evil.org; dmarc=pass', ALICE], expect: 'auth_failed' },
  { name: 'authserv-id with the trusted one as a prefix', headers: ['Authentication-Results: mx.repo.example.evil.org; dmarc=pass', ALICE], expect: 'auth_failed' },
  { name: 'authserv-id followed by junk instead of a version', headers: ['Authentication-Results: mx.repo.example evil; dmarc=pass', ALICE], expect: 'auth_failed' },
  { name: 'no authserv-id, just a result', headers: ['Authentication-Results: dmarc=pass', ALICE], expect: 'auth_failed' },
  {
    name: 'topmost header from another server, trusted pass below',
    headers: ['Authentication-Results: mx.evil.org; dmarc=pass', 'Authentication-Results: mx.repo.example; dmarc=pass', ALICE],
    expect: 'auth_failed',
  },
  {
    name: 'trusted fail on top, injected pass below',
    headers: ['Authentication-Results: mx.repo.example; dmarc=fail', ALICE, 'Authentication-Results: mx.repo.example; dmarc=pass'],
    expect: 'auth_failed',
  },
  {
    name: 'trusted header without dmarc on top, injected pass below',
    headers: ['Authentication-Results: mx.repo.example; spf=pass smtp.mailfrom=example.com', 'Authentication-Results: mx.repo.example; dmarc=pass', ALICE],
    expect: 'auth_failed',
  },
  { name: 'headers faked inside the body', headers: [ALICE], body: 'Authentication-Results: mx.repo.example; dmarc=pass\r\n\r\nhi', expect: 'auth_failed' },
  { name: 'contradicting dmarc results', headers: ['Authentication-Results: mx.repo.example; dmarc=pass; dmarc=fail', ALICE], expect: 'auth_failed' },
  {
    name: 'dmarc=pass smuggled through an unquoted smtp.mailfrom',
    headers: ['Authentication-Results: mx.repo.example; spf=pass smtp.mailfrom=x;dmarc=pass@evil.org; dmarc=fail header.from=example.com', ALICE],
    expect: 'auth_failed',
  },
  {
    name: 'dmarc=pass inside a quoted property value',
    headers: ['Authentication-Results: mx.repo.example; spf=pass smtp.mailfrom="x;dmarc=pass"@evil.org', ALICE],
    expect: 'auth_failed',
  },
  { name: 'unterminated comment', headers: ['Authentication-Results: mx.repo.example; dmarc=pass (p=reject', ALICE], expect: 'auth_failed' },
  {
    name: 'DMARC passed for a different From domain',
    headers: ['Authentication-Results: mx.repo.example; dmarc=pass header.from=evil.org', ALICE],
    expect: 'auth_failed',
  },

  // --- From header ---
  { name: 'two From headers', headers: [PASS, ALICE, 'From: mallory@evil.org'], expect: 'malformed', sender: null },
  { name: 'two From headers, one with obsolete "From :" spelling', headers: [PASS, ALICE, 'From : mallory@evil.org'], expect: 'malformed' },
  { name: 'no From header', headers: [PASS], expect: 'malformed' },
  { name: 'empty From header', headers: [PASS, 'From: '], expect: 'malformed' },
  { name: 'null address From: <>', headers: [PASS, 'From: <>'], expect: 'malformed' },
  { name: 'group syntax', headers: [PASS, 'From: Friends: alice@example.com;'], expect: 'malformed' },
  { name: 'two addresses in one From', headers: [PASS, 'From: alice@example.com, mallory@evil.org'], expect: 'malformed' },
  { name: 'unquoted address as display name', headers: [PASS, 'From: alice@example.com <mallory@evil.org>'], expect: 'malformed' },
  { name: 'two angle addresses', headers: [PASS, 'From: <mallory@evil.org> <alice@example.com>'], expect: 'malformed' },
  { name: 'homoglyph (Cyrillic a) in the domain', headers: [PASS, 'From: alice@ex\u0430mple.com'], expect: 'malformed' },
  { name: 'bare CR smuggling a second header', headers: [PASS, 'From: alice@example.com\rX-Evil: <mallory@evil.org>'], expect: 'malformed' },
  { name: 'address with two @', headers: [PASS, 'From: <alice@example.com@evil.org>'], expect: 'malformed' },
  { name: 'quoted local part', headers: [PASS, 'From: <"alice"@example.com>'], expect: 'malformed' },

  // --- allowlist ---
  {
    name: 'display-name spoof: the real address decides',
    headers: ['Authentication-Results: mx.repo.example; dmarc=pass header.from=evil.org', 'From: "alice@example.com" <mallory@evil.org>'],
    expect: 'unauthorized',
    sender: 'mallory@evil.org',
  },
  {
    name: 'encoded-word display-name spoof',
    headers: ['Authentication-Results: mx.repo.example; dmarc=pass', 'From: =?utf-8?q?alice=40example.com?= <mallory@evil.org>'],
    expect: 'unauthorized',
    sender: 'mallory@evil.org',
  },
  { name: 'same domain, other person', headers: ['Authentication-Results: mx.repo.example; dmarc=pass', 'From: mallory@example.com'], expect: 'unauthorized' },
  { name: 'subdomain of a wildcard domain', headers: ['Authentication-Results: mx.repo.example; dmarc=pass', 'From: carol@sub.trusted.org'], expect: 'unauthorized' },
  { name: 'allowed domain as a prefix of another', headers: ['Authentication-Results: mx.repo.example; dmarc=pass', 'From: alice@example.com.evil.org'], expect: 'unauthorized' },
  { name: 'wildcard domain as a suffix of another', headers: ['Authentication-Results: mx.repo.example; dmarc=pass', 'From: bob@untrusted.org'], expect: 'unauthorized' },

  // --- loops ---
  { name: 'our own address', headers: [PASS, 'From: Airut <airut@repo.example>'], expect: 'loop', sender: 'airut@repo.example' },
  { name: 'our own sub-address', headers: [PASS, 'From: airut+opus@repo.example'], expect: 'loop' },
  { name: 'Auto-Submitted: auto-replied', headers: [PASS, ALICE, 'Auto-Submitted: auto-replied'], expect: 'loop' },
  { name: 'MAILER-DAEMON', headers: [PASS, 'From: Mail Delivery System <MAILER-DAEMON@example.com>'], expect: 'loop' },
  { name: 'empty Return-Path', headers: ['Return-Path: <>', PASS, ALICE], expect: 'loop' },
  { name: 'List-Id', headers: [PASS, ALICE, 'List-Id: Dev list <dev.lists.example.com>'], expect: 'loop' },
  { name: 'Precedence: bulk', headers: [PASS, ALICE, 'Precedence: bulk'], expect: 'loop' },
];

describe('screenMessage on raw messages', () => {
  it('has a table of at least 30 cases', () => assert.ok(cases.length >= 30));

  for (const c of cases) {
    it(`${c.expect}: ${c.name}`, async () => {
      const hasTo = c.headers.some((h) => /^to:/i.test(h));
      const headers = [...c.headers, ...ORDINARY_HEADERS.filter((h) => !(hasTo && /^to:/i.test(h)))];
      const parsed = await parseMessage(rawMessage(headers, c.body));
      const verdict = screenMessage(parsed, policy);
      if (c.expect === 'accept') {
        assert.equal(verdict.action, 'accept', JSON.stringify(verdict));
      } else {
        assert.equal(verdict.action, 'reject', JSON.stringify(verdict));
        if (verdict.action === 'reject') {
          assert.equal(verdict.reason, c.expect, verdict.detail);
          assert.ok(verdict.detail.length > 10 && !/[\r\n]/.test(verdict.detail), verdict.detail);
        }
      }
      if (c.sender !== undefined) assert.equal(verdict.sender, c.sender);
      if (c.modelHint !== undefined && verdict.action === 'accept') assert.equal(verdict.modelHint, c.modelHint);
    });
  }

  it('says which server wrote the untrusted header', async () => {
    const parsed = await parseMessage(rawMessage(['Authentication-Results: mx.evil.org; dmarc=pass', ALICE, ...ORDINARY_HEADERS]));
    const verdict = screenMessage(parsed, policy);
    assert.equal(verdict.action, 'reject');
    if (verdict.action === 'reject') {
      assert.match(verdict.detail, /mx\.evil\.org/);
      assert.match(verdict.detail, /mx\.repo\.example/);
    }
  });
});

describe('screenMessage with the Microsoft 365 settings (from raw bytes)', () => {
  const m365: ScreeningPolicy = { ...policy, trustedAuthservId: '', microsoftInternalFallback: true };
  const EOP = 'Authentication-Results: spf=pass (sender IP is 203.0.113.7) smtp.mailfrom=example.com; dkim=pass (signature was verified) header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass reason=100';

  it('accepts an Exchange Online header with dmarc=pass and no authserv-id', async () => {
    const verdict = screenMessage(await parseMessage(rawMessage([EOP, ALICE, ...ORDINARY_HEADERS])), m365);
    assert.equal(verdict.action, 'accept', JSON.stringify(verdict));
  });
  it('accepts internal mail (no Authentication-Results, AuthAs: Internal) only with the fallback on', async () => {
    const parsed = await parseMessage(rawMessage(['X-MS-Exchange-Organization-AuthAs: Internal', ALICE, ...ORDINARY_HEADERS]));
    assert.equal(screenMessage(parsed, m365).action, 'accept');
    const off = screenMessage(parsed, { ...m365, microsoftInternalFallback: false });
    assert.equal(off.action, 'reject');
    if (off.action === 'reject') assert.equal(off.reason, 'auth_failed');
  });
  it('an internal mail from a sender not on the list is still unauthorized', async () => {
    const parsed = await parseMessage(rawMessage(['X-MS-Exchange-Organization-AuthAs: Internal', 'From: Mallory <mallory@example.com>', ...ORDINARY_HEADERS]));
    const verdict = screenMessage(parsed, m365);
    assert.equal(verdict.action === 'reject' && verdict.reason, 'unauthorized');
  });
});
