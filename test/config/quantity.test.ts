import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCpuQuantity, parseMemoryQuantity, podmanMemoryToQuantity } from '../../src/config/quantity.ts';

test('CPU quantities: cores and millicores', () => {
  const good: Array<[string, number]> = [['2', 2], ['0.5', 0.5], ['.25', 0.25], ['500m', 0.5], ['1m', 0.001], ['1500m', 1.5], ['16', 16]];
  for (const [text, cores] of good) assert.deepEqual(parseCpuQuantity(text), { ok: true, value: cores }, text);
});

test('CPU quantities refused, each with what to write', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /must be CPU cores, such as 1, 0.5 or 500m/],
    ['two', /must be CPU cores/],
    ['-1', /must be CPU cores/],
    ['1.5m', /millicores are whole numbers/],
    ['2 cores', /must be CPU cores/],
    ['1Gi', /must be CPU cores/],
    ['0', /less than 1m/],
    ['0.0001', /less than 1m/],
    ['1e3', /must be CPU cores/],
  ];
  for (const [text, message] of bad) {
    const r = parseCpuQuantity(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.problem, message, text);
  }
});

test('memory quantities: binary and decimal units, plain bytes', () => {
  const good: Array<[string, number]> = [
    ['512Mi', 512 * 2 ** 20], ['2Gi', 2 * 2 ** 30], ['1G', 1e9], ['1073741824', 2 ** 30], ['1.5Gi', 1.5 * 2 ** 30], ['100k', 1e5], ['1Ti', 2 ** 40], ['10Gi', 10 * 2 ** 30],
  ];
  for (const [text, bytes] of good) assert.deepEqual(parseMemoryQuantity(text), { ok: true, value: bytes }, text);
});

test('memory quantities refused; podman-style 512m is explained', () => {
  const bad: Array<[string, RegExp]> = [
    ['512m', /thousandths of a byte in Kubernetes; write 512Mi/],
    ['2g', /must be bytes with an optional unit/],
    ['2GB', /must be bytes with an optional unit/],
    ['2 Gi', /must be bytes/],
    ['Gi', /must be bytes/],
    ['0', /at least one byte/],
    ['-1Gi', /must be bytes/],
  ];
  for (const [text, message] of bad) {
    const r = parseMemoryQuantity(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.problem, message, text);
  }
});

test("resource_limits' podman memory becomes a Kubernetes quantity", () => {
  const cases: Array<[string, string]> = [['2g', '2Gi'], ['512m', '512Mi'], ['4G', '4Gi'], ['100k', '100Ki'], ['1000000', '1000000'], ['1024b', '1024'], ['1.5g', '1.5Gi']];
  for (const [podman, kube] of cases) {
    assert.equal(podmanMemoryToQuantity(podman), kube, podman);
    assert.equal(parseMemoryQuantity(kube).ok, true, kube);
  }
});
