import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAuthenticationResults, verifyDmarc } from '../../src/email/authenticate.ts';
import { isAuthorizedSender } from '../../src/email/authorize.ts';
import { extractFromAddress } from '../../src/email/from-address.ts';
import { parseHeaderSection, type HeaderLine } from '../../src/email/headers.ts';

const ar = (...values: string[]): HeaderLine[] => values.map((value) => ({ name: 'Authentication-Results', value }));

describe('parseAuthenticationResults', () => {
  it('reads authserv-id, methods, results and properties of a real Gmail-style header', () => {
    const parsed = parseAuthenticationResults(
      'mx.google.com; dkim=pass header.i=@example.com header.s=s1 header.b=abc; spf=pass (google.com: domain of a@example.com designates 1.2.3.4 as permitted sender) smtp.mailfrom=a@example.com; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com',
    );
    assert.ok(parsed.ok);
    assert.equal(parsed.authservId, 'mx.google.com');
    assert.deepEqual(
      parsed.results.map((r) => [r.method, r.result]),
      [['dkim', 'pass'], ['spf', 'pass'], ['dmarc', 'pass']],
    );
    assert.equal(parsed.results[2]?.properties['header.from'], 'example.com');
  });

  it('keeps a semicolon inside a quoted string from starting a new result', () => {
    const parsed = parseAuthenticationResults('mx.example.com; spf=fail reason="a; dmarc=pass"');
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.results.map((r) => r.method), ['spf']);
  });

  it('reads a method version (dmarc/1=pass) as an unreadable statement, not as a pass', () => {
    const parsed = parseAuthenticationResults('mx.example.com; dmarc/1=pass');
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.results, [{ method: 'dmarc', result: null, properties: {} }]);
  });

  it('keeps the comments of a statement out of its method and result, but reads its properties', () => {
    const parsed = parseAuthenticationResults('mx.example.com (x; y); dmarc=pass (p=REJECT; dis=NONE) header.from=(c)example.com');
    assert.ok(parsed.ok);
    assert.equal(parsed.authservId, 'mx.example.com');
    assert.deepEqual(parsed.results, [{ method: 'dmarc', result: 'pass', properties: { 'header.from': 'example.com' } }]);
  });

  it('refuses an unterminated quoted string', () => {
    assert.equal(parseAuthenticationResults('mx.example.com; spf=pass reason="oops; dmarc=pass').ok, false);
  });
});

describe('verifyDmarc', () => {
  it('accepts trusted dmarc=pass', () => {
    assert.deepEqual(verifyDmarc(ar('mx.example.com; dmarc=pass'), 'mx.example.com'), { ok: true });
  });
  it('uses only the first Authentication-Results among all headers', () => {
    const lines: HeaderLine[] = [
      { name: 'Received', value: 'from a by b' },
      { name: 'Authentication-Results', value: 'mx.example.com; dmarc=fail' },
      { name: 'Authentication-Results', value: 'mx.example.com; dmarc=pass' },
    ];
    assert.equal(verifyDmarc(lines, 'mx.example.com').ok, false);
  });
  it('compares the trusted id case-insensitively and ignores surrounding spaces in the config', () => {
    assert.equal(verifyDmarc(ar('MX.Example.COM; dmarc=pass'), ' mx.example.com ').ok, true);
  });
  it('with an empty trusted id, still refuses a header with nothing before its first ;', () => {
    assert.equal(verifyDmarc(ar('; dmarc=pass'), '').ok, false);
  });
  it('checks header.from against the From domain only when asked', () => {
    const lines = ar('mx.example.com; dmarc=pass header.from=other.org');
    assert.equal(verifyDmarc(lines, 'mx.example.com').ok, true);
    assert.equal(verifyDmarc(lines, 'mx.example.com', { fromDomain: 'example.com' }).ok, false);
    assert.equal(verifyDmarc(lines, 'mx.example.com', { fromDomain: 'OTHER.org' }).ok, true);
  });
  it('explains a failure in one readable line', () => {
    const verdict = verifyDmarc(ar('mx.example.com; dmarc=fail (p=reject)'), 'mx.example.com');
    assert.deepEqual(verdict, { ok: false, reason: 'the trusted server "mx.example.com" reported dmarc=fail' });
  });
});

describe('verifyDmarc: only the literal token dmarc=pass counts (issue 13, item 15)', () => {
  // The topmost header, written by the trusted server; the From domain is example.com.
  const table: [string, boolean][] = [
    ['mx.example.com; dmarc=pass', true],
    ['mx.example.com;dmarc=pass', true],
    ['mx.example.com; dmarc=pass header.from=example.com', true],
    ['MX.example.com; DMARC=Pass header.from=EXAMPLE.com', true],
    ['mx.example.com; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com', true],
    ['mx.example.com; dmarc=pass(p=reject) header.from=example.com', true],
    ['mx.example.com (our server); spf=pass smtp.mailfrom=example.com; dmarc=pass', true],
    ['mx.example.com; (checked) dmarc=pass', true],
    // A comment, whitespace or a version inside the token: verifiers disagree, so it never passes.
    ['mx.example.com; dmarc=(comment)pass', false],
    ['mx.example.com; dmarc=(fail)pass header.from=example.com', false],
    ['mx.example.com; dmarc(comment)=pass', false],
    ['mx.example.com; dmarc=pa(comment)ss', false],
    ['mx.example.com; dmarc=(a(nested)b)pass', false],
    ['mx.example.com; dmarc = pass', false],
    ['mx.example.com; dmarc =pass', false],
    ['mx.example.com; dmarc= pass', false],
    ['mx.example.com; dmarc=\tpass', false],
    ['mx.example.com; dmarc/1=pass', false],
    // Not the whole token, or not a dmarc result at all.
    ['mx.example.com; dmarc=passthrough', false],
    ['mx.example.com; dmarc=pass.x', false],
    ['mx.example.com; dmarc=pass"x"', false],
    ['mx.example.com; notdmarc=pass', false],
    ['mx.example.com; spf=pass (dmarc=pass)', false],
    ['mx.example.com; spf=pass reason="dmarc=pass"', false],
    ['mx.example.com; spf=pass (x; dmarc=pass)', false],
    // A contradiction, or a pass for another From domain.
    ['mx.example.com; dmarc=pass; dmarc=fail', false],
    ['mx.example.com; dmarc=fail (dmarc=pass)', false],
    ['mx.example.com; dmarc=pass header.from=evil.example', false],
    ['mx.example.com; dmarc=pass header.from=(c)evil.example', false],
    ['evil.example; dmarc=pass', false],
  ];
  for (const [value, expected] of table) {
    it(`${value} → ${expected ? 'pass' : 'reject'}`, () => {
      assert.equal(verifyDmarc(ar(value), 'mx.example.com', { fromDomain: 'example.com' }).ok, expected);
    });
  }
});

describe('isAuthorizedSender', () => {
  const allow = ['alice@example.com', '*@team.org', 'Bob@Mixed.Case'];
  const table: [string, boolean][] = [
    ['alice@example.com', true],
    ['ALICE@EXAMPLE.COM', true],
    ['bob@mixed.case', true],
    ['anyone@team.org', true],
    ['anyone@TEAM.ORG', true],
    ['a@sub.team.org', false],
    ['a@team.org.evil.org', false],
    ['a@evilteam.org', false],
    ['alice@example.com.evil.org', false],
    ['alice@sub.example.com', false],
    ['x@example.com', false],
    ['', false],
    ['@team.org', false],
    ['a@b@team.org', false],
  ];
  for (const [address, expected] of table) {
    it(`${address || '(empty)'} → ${expected}`, () => assert.equal(isAuthorizedSender(address, allow), expected));
  }
  it('a bare "*@" entry authorizes nobody', () => assert.equal(isAuthorizedSender('a@b.c', ['*@']), false));
});

describe('extractFromAddress', () => {
  const from = (...values: string[]) => extractFromAddress(values.map((value) => ({ name: 'From', value })));
  it('decodes the display name but takes the address from the angle brackets', () => {
    const v = from('"=?utf-8?q?Alice_Example?=" <Alice@Example.com>');
    assert.deepEqual(v.ok && [v.address, v.displayName], ['alice@example.com', 'Alice Example']);
  });
  it('counts From headers spelled with obsolete whitespace before the colon', () => {
    const lines = parseHeaderSection('From: a@example.com\r\nFrom : b@example.com\r\n');
    assert.equal(extractFromAddress(lines).ok, false);
  });
  it('refuses a comment that holds "<", ">" or "@" (issue 13, item 15), and keeps other comments and quoted names', () => {
    const table: [string, string | null][] = [
      ['alice@corp.example (<x@evil.example>)', null],
      ['alice@corp.example (x@evil.example)', null],
      ['(x@evil.example) alice@corp.example', null],
      ['Alice (>) <alice@corp.example>', null],
      ['Alice <alice@corp.example> (<x@evil.example>)', null],
      ['Alice (a (b@evil.example) c) <alice@corp.example>', null],
      ['"alice@corp.example" <alice@corp.example>', 'alice@corp.example'],
      ['"Alice <boss>" <alice@corp.example>', 'alice@corp.example'],
      ['alice@corp.example (Alice Example)', 'alice@corp.example'],
      ['Alice (work) <alice@corp.example>', 'alice@corp.example'],
    ];
    for (const [value, address] of table) {
      const v = from(value);
      assert.equal(v.ok ? v.address : null, address, value);
      if (!v.ok && address === null && /\(/.test(value)) assert.match(v.reason, /comment/, value);
    }
  });
  it('refuses addresses a second parser could read differently', () => {
    for (const value of ['a@x.com b@y.com', '<a@x.com>>', '<<a@x.com>', 'a@x.com <b@y.com', 'Name <a@x.com> trailing', 'a@', '@x.com', 'a..b@x.com', '.a@x.com', 'a@-x.com', 'a@x_y.com']) {
      assert.equal(from(value).ok, false, value);
    }
  });
});

/** Headers as Exchange Online Protection writes them: no authserv-id, statements from the first byte. */
const EOP_PASS =
  'spf=pass (sender IP is 203.0.113.7) smtp.mailfrom=contoso.com; dkim=pass (signature was verified) header.d=contoso.com;dmarc=pass action=none header.from=contoso.com;compauth=pass reason=100';
const EOP_FAIL =
  'spf=fail (sender IP is 198.51.100.9) smtp.mailfrom=contoso.com; dkim=none (message not signed) header.d=none;dmarc=fail action=oreject header.from=contoso.com;compauth=fail reason=000';

describe("verifyDmarc: Microsoft 365 modes (Airut's trusted_authserv_id \"\" and microsoft_internal_fallback)", () => {
  it('"" accepts an Exchange Online header that says dmarc=pass, and refuses one that says dmarc=fail', () => {
    assert.deepEqual(verifyDmarc(ar(EOP_PASS), '', { fromDomain: 'contoso.com' }), { ok: true });
    assert.deepEqual(verifyDmarc(ar(EOP_FAIL), ''), { ok: false, reason: 'the topmost Authentication-Results header reported dmarc=fail' });
  });
  it('"" skips only the comparison: the topmost header still decides, and dmarc=pass must be the whole token', () => {
    const lines: HeaderLine[] = [
      { name: 'Authentication-Results', value: EOP_FAIL },
      { name: 'Authentication-Results', value: EOP_PASS },
    ];
    assert.equal(verifyDmarc(lines, '').ok, false);
    assert.equal(verifyDmarc(ar('spf=pass smtp.mailfrom=contoso.com; dmarc=passed header.from=contoso.com'), '').ok, false);
    assert.equal(verifyDmarc(ar('spf=pass smtp.mailfrom=contoso.com; x-dmarc=pass'), '').ok, false);
    assert.equal(verifyDmarc(ar(EOP_PASS), '', { fromDomain: 'fabrikam.com' }).ok, false);
  });
  it('"" also accepts a header that does carry an authserv-id (any), as Airut does', () => {
    assert.equal(verifyDmarc(ar('mx.contoso.com; dmarc=pass header.from=contoso.com'), '').ok, true);
  });
  it('a configured id never accepts a header without one', () => {
    assert.equal(verifyDmarc(ar(EOP_PASS), 'mx.contoso.com').ok, false);
  });

  const authAs = (...values: string[]): HeaderLine[] => values.map((value) => ({ name: 'X-MS-Exchange-Organization-AuthAs', value }));
  it('the internal fallback accepts AuthAs: Internal when there is no Authentication-Results header at all', () => {
    assert.deepEqual(verifyDmarc(authAs(' Internal '), '', { microsoftInternalFallback: true }), { ok: true });
    assert.deepEqual(verifyDmarc(authAs('INTERNAL'), 'mx.contoso.com', { microsoftInternalFallback: true }), { ok: true });
  });
  it('the internal fallback is off by default and when not asked for', () => {
    assert.equal(verifyDmarc(authAs('Internal'), '').ok, false);
    assert.equal(verifyDmarc(authAs('Internal'), '', { microsoftInternalFallback: false }).ok, false);
  });
  it('the internal fallback refuses Anonymous, a missing AuthAs, two AuthAs headers, and any mail that has Authentication-Results', () => {
    const on = { microsoftInternalFallback: true };
    assert.match((verifyDmarc(authAs('Anonymous'), '', on) as { reason: string }).reason, /is "Anonymous", not Internal/);
    assert.match((verifyDmarc([], '', on) as { reason: string }).reason, /no Authentication-Results header and no X-MS-Exchange-Organization-AuthAs/);
    assert.equal(verifyDmarc(authAs('Internal', 'Anonymous'), '', on).ok, false);
    assert.equal(verifyDmarc(authAs('Internal', 'Internal'), '', on).ok, false);
    // With a header present the header decides, whatever AuthAs says.
    assert.equal(verifyDmarc([...ar(EOP_FAIL), ...authAs('Internal')], '', on).ok, false);
  });
});
