import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ThreadBundles } from '../../src/threads/bundle.ts';
import { IdleHeapTrim, exposeGcToThreads, fullCollector } from '../../src/threads/heap-trim.ts';

interface Probe {
  available: boolean;
  codeCacheRejected: boolean;
  before: { used: number; total: number };
  after: { used: number; total: number };
}

const bundles = new ThreadBundles();
after(() => bundles.dispose());

async function probe(): Promise<Probe> {
  const worker = new Worker(await bundles.bundle(new URL('../fixtures/workers/heap-trim-probe.ts', import.meta.url)), { execArgv: [] });
  try {
    return await new Promise<Probe>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

test('threads started from a bundle can trim their heap, from its code cache, and trimming gives the garbage back', async () => {
  // Nothing has been bundled in this process yet: gc() is not exposed, and this thread has none.
  assert.equal(fullCollector(), null);
  const probed = await probe();
  assert.equal(probed.available, true, 'making the bundle exposed gc() to threads');
  // The flag changed when the cache was made, not after: V8 took the cache (a changed flag hash would
  // make every listener compile its bundle from scratch).
  assert.equal(probed.codeCacheRejected, false);
  // 300,000 dropped objects (some 15 MiB) are garbage before the collection and gone after it.
  assert.ok(probed.before.used - probed.after.used > 8 * 1024 * 1024, `used ${probed.before.used} → ${probed.after.used}`);
  assert.ok(probed.after.total < probed.before.total, `total ${probed.before.total} → ${probed.after.total}`);
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, "the main thread's own global gains no gc()");
  exposeGcToThreads(); // idempotent
});

function fakeClock(t: import('node:test').TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let runs = 0;
  return { collect: () => void runs++, runs: () => runs };
}

test('the trim runs once the thread has been quiet for the delay, once per quiet spell', (t) => {
  const c = fakeClock(t);
  const trim = new IdleHeapTrim(c.collect, 5_000);
  trim.quiet();
  t.mock.timers.tick(4_999);
  assert.equal(c.runs(), 0);
  trim.quiet(); // still the same quiet spell: the delay does not start over, and nothing runs twice
  t.mock.timers.tick(1);
  assert.equal(c.runs(), 1);
  t.mock.timers.tick(60_000);
  assert.equal(c.runs(), 1);
  trim.busy();
  trim.quiet();
  t.mock.timers.tick(5_000);
  assert.equal(c.runs(), 2);
});

test('work that starts before the delay is up cancels the trim', (t) => {
  const c = fakeClock(t);
  const trim = new IdleHeapTrim(c.collect, 5_000);
  trim.quiet();
  t.mock.timers.tick(3_000);
  trim.busy();
  t.mock.timers.tick(10_000);
  assert.equal(c.runs(), 0);
});

test('without a collector (gc() not exposed) quiet and busy do nothing', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const trim = new IdleHeapTrim(null, 5_000);
  trim.quiet();
  t.mock.timers.tick(10_000);
  trim.busy();
});
