import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanSubject, NO_SUBJECT } from '../../src/dashboard/title.ts';

test('reply and forward prefixes, stacked and counted, and the [ID:…] tag go', () => {
  const cases: Array<[string, string]> = [
    ['Re: [ID:1a2b3c4d] Fix the login', 'Fix the login'],
    ['RE: RE: Fwd: Fix the login', 'Fix the login'],
    ['re:Fix', 'Fix'],
    ['Re[2]: Fix', 'Fix'],
    ['Re(3): Fix', 'Fix'],
    ['Re^2: Fix', 'Fix'],
    ['Fw: Fix', 'Fix'],
    ['AW: WG: Sv: VS: Antw: TR: RV: Fix', 'Fix'],
    ['Re : Fix', 'Fix'],
    ['Re： Fix', 'Fix'],
    ['Fix the [ID:deadbeef] thing', 'Fix the thing'],
    ['[ID:deadbeef]', NO_SUBJECT],
    ['Re: [ID:deadbeef] Re: [id:cafebabe] Fwd: Ship it', 'Ship it'],
    ['', NO_SUBJECT],
    ['   ', NO_SUBJECT],
    ['Re:', NO_SUBJECT],
    ['Re: Re: ', NO_SUBJECT],
  ];
  for (const [input, want] of cases) assert.equal(cleanSubject(input), want, JSON.stringify(input));
});

test('words that only start like a prefix stay', () => {
  for (const s of ['Refactor: the parser', 'Regression in login', 'Fwding rules', 'Sven: hello', 'Irgendwas', 'Read me', 'Re-run the build', 'RE2 engine']) {
    assert.equal(cleanSubject(s), s, s);
  }
  assert.equal(cleanSubject('Release: v2 [ID:]'), 'Release: v2');
});

test('properties: idempotent, never empty, never a prefix or tag left at the start, no surrounding space', () => {
  const parts = ['Re:', 'RE: ', 'Fwd:', 'Fw: ', 'AW:', 'Re[2]:', '[ID:0a1b2c3d]', ' ', 'Fix', 'the', 'login', 'Regression', ':', '[x]', 'ü', '<b>'];
  let seed = 7;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let i = 0; i < 2000; i++) {
    const input = Array.from({ length: rand(8) }, () => parts[rand(parts.length)]!).join(rand(2) ? ' ' : '');
    const out = cleanSubject(input);
    assert.ok(out.length > 0, JSON.stringify(input));
    assert.equal(cleanSubject(out), out, `idempotent: ${JSON.stringify(input)}`);
    assert.equal(out, out.trim());
    assert.doesNotMatch(out, /\[ID:/i, JSON.stringify(input));
    assert.doesNotMatch(out, /^(?:re|fwd?|aw)(?:\[\d+\])?\s*:/i, JSON.stringify(input));
  }
});

test('a very long subject of prefixes is cleaned without blowing up', () => {
  assert.equal(cleanSubject('Re: '.repeat(10_000) + 'Fix'), 'Fix');
  assert.equal(cleanSubject('[ID:x]'.repeat(10_000)), NO_SUBJECT);
});
