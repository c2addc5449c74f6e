import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { applyMasks, buildMaskRules, surrogateFor } from '../../src/proxy/masked-secrets.ts';

const KEY = randomBytes(32);

test('a surrogate has the shape of the value and is stable per conversation', () => {
  const value = 'ghp_AbCdEf0123456789xyzXYZ0123456789abcd';
  const s = surrogateFor(value, KEY, 'conv1', 'GH_TOKEN');
  assert.notEqual(s, value);
  assert.equal(s.length, value.length);
  assert.ok(s.startsWith('ghp_'));
  for (let i = 4; i < value.length; i++) {
    const cls = (c: string) => (/[a-z]/.test(c) ? 'l' : /[A-Z]/.test(c) ? 'u' : /\d/.test(c) ? 'd' : c);
    assert.equal(cls(s[i]!), cls(value[i]!), `position ${i}`);
  }
  assert.equal(surrogateFor(value, KEY, 'conv1', 'GH_TOKEN'), s, 'deterministic');
  assert.notEqual(surrogateFor(value, KEY, 'conv2', 'GH_TOKEN'), s, 'differs between conversations');
  assert.notEqual(surrogateFor(value, randomBytes(32), 'conv1', 'GH_TOKEN'), s, 'differs with the key');
  const punct = surrogateFor('abc-def.ghi', KEY, 'c', 'N');
  assert.match(punct, /^[a-z]{3}-[a-z]{3}\.[a-z]{3}$/);
});

test('the real value goes only into the named headers of in-scope hosts', () => {
  const rules = buildMaskRules(
    { GH_TOKEN: { value: 'ghp_realRealReal1234', scopes: ['api.github.com', '*.githubusercontent.com'], headers: ['Authorization'], allowForeignCredentials: false } },
    KEY,
    'conv',
  );
  const surrogate = rules[0]!.surrogate;
  const inScope: Record<string, string | string[] | undefined> = { authorization: `Bearer ${surrogate}`, 'x-other': surrogate };
  assert.equal(applyMasks(rules, 'api.github.com', inScope), 1);
  assert.equal(inScope.authorization, 'Bearer ghp_realRealReal1234');
  assert.equal(inScope['x-other'], surrogate, 'headers not named stay as they are');

  const wildcard: Record<string, string | string[] | undefined> = { authorization: `token ${surrogate}` };
  applyMasks(rules, 'raw.githubusercontent.com', wildcard);
  assert.equal(wildcard.authorization, 'token ghp_realRealReal1234');

  const outOfScope: Record<string, string | string[] | undefined> = { authorization: `Bearer ${surrogate}` };
  assert.equal(applyMasks(rules, 'evil.test', outOfScope), 0);
  assert.equal(outOfScope.authorization, `Bearer ${surrogate}`);
  const lookalike: Record<string, string | string[] | undefined> = { authorization: `Bearer ${surrogate}` };
  applyMasks(rules, 'api.github.com.evil.test', lookalike);
  assert.equal(lookalike.authorization, `Bearer ${surrogate}`);
});

test('git-style Basic credentials carrying the surrogate are rewritten', () => {
  const rules = buildMaskRules({ T: { value: 'ghp_realRealReal1234', scopes: ['github.com'], headers: ['authorization'], allowForeignCredentials: false } }, KEY, 'c');
  const basic = Buffer.from(`x-access-token:${rules[0]!.surrogate}`).toString('base64');
  const headers: Record<string, string | string[] | undefined> = { authorization: `Basic ${basic}` };
  assert.equal(applyMasks(rules, 'github.com', headers), 1);
  const decoded = Buffer.from(String(headers.authorization).slice(6), 'base64').toString();
  assert.equal(decoded, 'x-access-token:ghp_realRealReal1234');
});
