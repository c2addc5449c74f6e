import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyCredentials, strippedNote, type HeaderValues } from '../../src/proxy/credential-headers.ts';
import { buildMaskRules, type MaskRule } from '../../src/proxy/masked-secrets.ts';

const REAL = 'ghp_realRealReal1234';
function rules(allowForeignCredentials = false, headers = ['Authorization']): MaskRule[] {
  return buildMaskRules({ GH_TOKEN: { value: REAL, scopes: ['api.github.com', '*.githubusercontent.com'], headers, allowForeignCredentials } });
}
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;
const unbasic = (v: unknown) => Buffer.from(String(v).replace(/^Basic /, ''), 'base64').toString();

test('the real value goes only into the named headers of in-scope hosts', async () => {
  const r = rules();
  const s = r[0]!.surrogate;
  const inScope: HeaderValues = { authorization: `Bearer ${s}`, 'x-other': s };
  assert.deepEqual(await applyCredentials(r, 'api.github.com', inScope), { masked: 1, stripped: [] });
  assert.equal(inScope.authorization, `Bearer ${REAL}`);
  assert.equal(inScope['x-other'], s, 'headers not named stay as they are');

  const token: HeaderValues = { authorization: `token ${s}` };
  await applyCredentials(r, 'raw.githubusercontent.com', token);
  assert.equal(token.authorization, `token ${REAL}`);

  for (const host of ['evil.test', 'api.github.com.evil.test']) {
    const out: HeaderValues = { authorization: `Bearer ${s}` };
    assert.deepEqual(await applyCredentials(r, host, out), { masked: 0, stripped: [] }, host);
    assert.equal(out.authorization, `Bearer ${s}`, `${host}: the surrogate goes out unchanged`);
  }
});

test("git's Basic credentials carrying the surrogate as password are rewritten", async () => {
  const r = rules();
  const headers: HeaderValues = { authorization: basic(`x-access-token:${r[0]!.surrogate}`) };
  assert.equal((await applyCredentials(r, 'api.github.com', headers)).masked, 1);
  assert.equal(unbasic(headers.authorization), `x-access-token:${REAL}`);
});

test('a foreign credential in a named header of a scoped host is stripped, and said so without its value', async () => {
  const r = rules();
  const bearer: HeaderValues = { authorization: 'Bearer ghp_attackerOwnToken99', accept: '*/*' };
  const out = await applyCredentials(r, 'api.github.com', bearer);
  assert.deepEqual(out, { masked: 0, stripped: ['authorization'] });
  assert.equal(bearer.authorization, undefined);
  assert.equal(bearer.accept, '*/*');
  const note = strippedNote(out.stripped);
  assert.equal(note, "STRIPPED header 'authorization' (foreign credential blocked)");
  assert.doesNotMatch(note, /attacker/);

  const foreignBasic: HeaderValues = { authorization: basic('x-access-token:ghp_attackerOwnToken99') };
  assert.deepEqual((await applyCredentials(r, 'api.github.com', foreignBasic)).stripped, ['authorization']);
  assert.equal(foreignBasic.authorization, undefined);

  const elsewhere: HeaderValues = { authorization: 'Bearer ghp_attackerOwnToken99' };
  assert.deepEqual((await applyCredentials(r, 'example.test', elsewhere)).stripped, [], 'out of scope: not ours to judge');
  assert.equal(elsewhere.authorization, 'Bearer ghp_attackerOwnToken99');
});

test('allow_foreign_credentials lets a foreign value through, and still swaps the surrogate', async () => {
  const r = rules(true);
  const foreign: HeaderValues = { authorization: 'Bearer ghp_agentOwnToken1234' };
  assert.deepEqual(await applyCredentials(r, 'api.github.com', foreign), { masked: 0, stripped: [] });
  assert.equal(foreign.authorization, 'Bearer ghp_agentOwnToken1234');
  const ours: HeaderValues = { authorization: `Bearer ${r[0]!.surrogate}` };
  assert.equal((await applyCredentials(r, 'api.github.com', ours)).masked, 1);
  assert.equal(ours.authorization, `Bearer ${REAL}`);
});

test('several values of one header: the surrogate is found in any of them and the header collapses to it', async () => {
  const r = rules();
  const s = r[0]!.surrogate;
  const headers: HeaderValues = { authorization: ['Bearer ghp_injectedByAttacker1', `Bearer ${s}`, 'Basic Zm9vOmJhcg=='] };
  assert.deepEqual(await applyCredentials(r, 'api.github.com', headers), { masked: 1, stripped: [] });
  assert.equal(headers.authorization, `Bearer ${REAL}`);

  const allForeign: HeaderValues = { authorization: ['Bearer one', 'Bearer two'] };
  assert.deepEqual((await applyCredentials(r, 'api.github.com', allForeign)).stripped, ['authorization']);
  assert.equal(allForeign.authorization, undefined);
});

test('glob header patterns look for the surrogate everywhere but never strip', async () => {
  const r = rules(false, ['X-*']);
  const s = r[0]!.surrogate;
  const headers: HeaderValues = { 'x-api-key': s, 'x-other': 'foreign-value', authorization: 'Bearer foreign' };
  assert.deepEqual(await applyCredentials(r, 'api.github.com', headers), { masked: 1, stripped: [] });
  assert.equal(headers['x-api-key'], REAL);
  assert.equal(headers['x-other'], 'foreign-value');
  assert.equal(headers.authorization, 'Bearer foreign');
});

test('a header one credential replaced is not stripped by another that names it too', async () => {
  const two = buildMaskRules({
    A: { value: 'ghp_aaaaaaaaaaaaaaaa1', scopes: ['api.github.com'], headers: ['Authorization'], allowForeignCredentials: false },
    B: { value: 'ghp_bbbbbbbbbbbbbbbb2', scopes: ['api.github.com'], headers: ['Authorization'], allowForeignCredentials: false },
  });
  const headers: HeaderValues = { authorization: `Bearer ${two[1]!.surrogate}` };
  assert.deepEqual(await applyCredentials(two, 'api.github.com', headers), { masked: 1, stripped: [] });
  assert.equal(headers.authorization, 'Bearer ghp_bbbbbbbbbbbbbbbb2');
});

test('a real value that cannot be had (a failed mint) rejects with its error', async () => {
  const failing: MaskRule = { name: 'GH', surrogate: 'ghs_x', scopes: ['api.github.com'], headers: ['authorization'], allowForeign: false, realValue: () => Promise.reject(new Error('mint failed')) };
  await assert.rejects(applyCredentials([failing], 'api.github.com', { authorization: 'Bearer ghs_x' }), /mint failed/);
  // No surrogate in the request: nothing to mint, so no failure.
  assert.deepEqual(await applyCredentials([failing], 'api.github.com', { accept: '*/*' }), { masked: 0, stripped: [] });
});
