/** Label values and object names of a task's Kubernetes objects: always valid, and never shared by two ids. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { instanceNamePart, labelValue } from '../../../src/sandbox/kubernetes/labels.ts';
import { instanceSelector, taskIdOf, taskObjectNames, taskSelector } from '../../../src/sandbox/kubernetes/task-objects.ts';

/** Fixed, so that a failure reproduces; fast-check prints the counterexample. */
const SEED = 2121;
const RUNS = 1000;
const VALID_LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Ids of every shape: plain, long, unicode, and ones that look like a sanitized value already. */
const anyId = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,70}$/),
  fc.tuple(fc.stringMatching(/^[a-z0-9]{1,60}$/), fc.stringMatching(/^[0-9a-f]{8}$/)).map(([a, h]) => `${a}-${h}`),
  fc.string({ minLength: 60, maxLength: 300 }),
);
const anyTaskId = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

test('a valid, ordinary label value is kept as it is', () => {
  for (const v of ['api', 'deadbeef', '0123456789ab', '42', 'my_repo.v2', 'A-b_c.D', 'x'.repeat(63)]) assert.equal(labelValue(v), v);
});

test('a value that had to change gets a hash suffix and is a valid label value', () => {
  for (const raw of ['', '-', 'a/b', 'Ünïcode', 'x'.repeat(64), '../../etc/passwd', 'repo\nname', ' api ']) {
    const v = labelValue(raw);
    assert.match(v, VALID_LABEL_VALUE, raw);
    assert.match(v, /(^|-)[0-9a-f]{8}$/, raw);
    assert.ok(v.length <= 63);
  }
  assert.equal(labelValue('a/b').slice(0, 4), 'a-b-', 'what can be kept of the original is kept, for people reading kubectl');
});

test('a valid value shaped like a sanitized one is hashed too, so it cannot pose as another id', () => {
  const sanitized = labelValue('a/b');
  assert.notEqual(labelValue(sanitized), sanitized);
  assert.notEqual(labelValue(sanitized), labelValue('a/b'));
});

test('ids that differ only in unpaired surrogates (invalid UTF-16) still get different values', () => {
  assert.notEqual(labelValue('a\uD800'), labelValue('a\uDC00'));
  assert.notEqual(taskObjectNames('\uD800', 1).pod, taskObjectNames('\uDFFF', 1).pod);
});

test('property: every id maps to a valid label value and a valid name fragment', () => {
  fc.assert(
    fc.property(anyId, anyTaskId, (id, task) => {
      assert.match(labelValue(id), VALID_LABEL_VALUE);
      const names = taskObjectNames(id, task);
      for (const n of Object.values(names)) {
        assert.match(n, DNS_LABEL);
        assert.ok(n.length <= 63, n);
      }
      assert.ok(names.pod.startsWith(`airut-${instanceNamePart(id)}-`));
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('property: distinct ids give distinct label values and distinct names', () => {
  fc.assert(
    fc.property(anyId, anyId, anyTaskId, anyTaskId, (a, b, ta, tb) => {
      if (a !== b) assert.notEqual(labelValue(a), labelValue(b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      if (a !== b || ta !== tb) {
        const na = taskObjectNames(a, ta);
        const nb = taskObjectNames(b, tb);
        assert.notEqual(na.pod, nb.pod);
        assert.notEqual(na.secret, nb.secret);
        assert.notEqual(na.networkPolicy, nb.networkPolicy);
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('property: many distinct ids never collide among themselves', () => {
  fc.assert(
    fc.property(fc.uniqueArray(anyId, { minLength: 2, maxLength: 200 }), (ids) => {
      assert.equal(new Set(ids.map(labelValue)).size, ids.length);
      assert.equal(new Set(ids.map((id) => taskObjectNames(id, 1).pod)).size, ids.length);
    }),
    { seed: SEED, numRuns: 100 },
  );
});

test('names: one prefix per instance, a short instance kept readable, a long one shortened deterministically', () => {
  assert.deepEqual(taskObjectNames('0123456789ab', 42), { pod: 'airut-0123456789ab-42', secret: 'airut-0123456789ab-42-env', filesSecret: 'airut-0123456789ab-42-cfg', networkPolicy: 'airut-0123456789ab-42-net' });
  const long = 'x'.repeat(100);
  const a = taskObjectNames(long, 1).pod;
  const b = taskObjectNames(long, Number.MAX_SAFE_INTEGER).pod;
  assert.equal(a.slice(0, a.lastIndexOf('-')), b.slice(0, b.lastIndexOf('-')));
  assert.equal(taskObjectNames(long, 1).pod, a, 'deterministic');
  assert.ok(taskObjectNames(long, Number.MAX_SAFE_INTEGER).secret.length <= 63);
  assert.match(taskObjectNames('Prod/EU', 3).pod, /^airut-prod-eu-[0-9a-f]{8}-3$/);
});

test('names of a hostile task id are refused', () => {
  for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) assert.throws(() => taskObjectNames('i', bad), { code: 'SANDBOX_SPEC_INVALID' });
});

test('selectors: the instance selector is part of every task selector', () => {
  assert.equal(instanceSelector('0123456789ab'), 'app.kubernetes.io/managed-by=airut,airut.dev/instance=0123456789ab');
  assert.equal(taskSelector('0123456789ab', 9), 'app.kubernetes.io/managed-by=airut,airut.dev/instance=0123456789ab,airut.dev/task=9');
  assert.equal(instanceSelector('a/b'), `app.kubernetes.io/managed-by=airut,airut.dev/instance=${labelValue('a/b')}`);
});

test('taskIdOf reads back the task id the builder wrote, and nothing else', () => {
  fc.assert(fc.property(anyTaskId, (id) => taskIdOf({ 'airut.dev/task': String(id) }) === id), { seed: SEED, numRuns: RUNS });
  const cases: Array<Record<string, string> | undefined> = [undefined, {}, { 'airut.dev/task': '' }, { 'airut.dev/task': '-1' }, { 'airut.dev/task': '01' }, { 'airut.dev/task': '1e3' },
    { 'airut.dev/task': '9007199254740993' }, { 'airut.dev/task': ' 1' }, { 'airut.dev/task': '0x10' }, { task: '5' }];
  for (const labels of cases) {
    assert.equal(taskIdOf(labels), null, JSON.stringify(labels));
  }
});
