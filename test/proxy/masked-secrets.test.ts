import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMaskRules, randomToken, surrogateFor, surrogatePool } from '../../src/proxy/masked-secrets.ts';

const cls = (c: string) => (/[a-z]/.test(c) ? 'l' : /[A-Z]/.test(c) ? 'u' : /\d/.test(c) ? 'd' : c);

test('a surrogate has the shape of the value and is new every time (per task)', () => {
  const value = 'ghp_AbCdEf0123456789xyzXYZ0123456789abcd';
  const s = surrogateFor(value);
  assert.notEqual(s, value);
  assert.equal(s.length, value.length);
  assert.ok(s.startsWith('ghp_'));
  for (let i = 4; i < value.length; i++) assert.equal(cls(s[i]!), cls(value[i]!), `position ${i}`);
  const again = surrogateFor(value);
  assert.notEqual(again, s, 'a second task gets another surrogate');
  assert.equal(again.length, s.length);
  assert.ok(again.startsWith('ghp_'));
  assert.match(surrogateFor('abc-def.ghi'), /^[a-z]{3}-[a-z]{3}\.[a-z]{3}$/);
  assert.match(surrogateFor('sk-ant-api03-XyZ12'), /^sk-ant-api03-[A-Z][a-z][A-Z]\d\d$/);
});

test('two tasks building rules from the same config get different surrogates of the same shape', () => {
  const secrets = { GH_TOKEN: { value: 'ghp_realRealReal1234', scopes: ['API.github.com'], headers: ['Authorization'], allowForeignCredentials: true } };
  const [a] = buildMaskRules(secrets);
  const [b] = buildMaskRules(secrets);
  assert.notEqual(a!.surrogate, b!.surrogate);
  assert.equal(a!.surrogate.length, b!.surrogate.length);
  assert.deepEqual(a!.scopes, ['api.github.com']);
  assert.deepEqual(a!.headers, ['authorization']);
  assert.equal(a!.allowForeign, true);
  assert.equal(a!.realValue(), 'ghp_realRealReal1234');
  assert.deepEqual(surrogatePool([a!]), { GH_TOKEN: a!.surrogate });
});

test('an empty masked secret gets no rule and no surrogate (nothing is injected)', () => {
  assert.deepEqual(buildMaskRules({ EMPTY: { value: '', scopes: ['x.test'], headers: ['Authorization'], allowForeignCredentials: false } }), []);
});

test('randomToken: prefix plus random letters and digits', () => {
  const t = randomToken('ghs_', 36);
  assert.match(t, /^ghs_[A-Za-z0-9]{36}$/);
  assert.notEqual(randomToken('ghs_', 36), t);
});
