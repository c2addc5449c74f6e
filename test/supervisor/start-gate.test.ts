import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StartGate } from '../../src/supervisor/start-gate.ts';

/** Starts `keys` in order through the gate; records the order in which each got its slot. */
function startAll(gate: StartGate, keys: string[]): { started: string[]; done: Promise<void> } {
  const started: string[] = [];
  const done = (async () => {
    for (const k of keys) {
      await gate.take(k);
      started.push(k);
    }
  })();
  return { started, done };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

test('at most `concurrency` starts hold a slot; a release lets the next one in, in order', async () => {
  const gate = new StartGate(2, 60_000);
  const run = startAll(gate, ['a', 'b', 'c', 'd']);
  await tick();
  assert.deepEqual(run.started, ['a', 'b']);
  assert.equal(gate.holding, 2);
  gate.release('b');
  await tick();
  assert.deepEqual(run.started, ['a', 'b', 'c']);
  gate.release('zzz'); // holds nothing: no effect
  gate.release('b'); // released already: no effect
  await tick();
  assert.deepEqual(run.started, ['a', 'b', 'c']);
  gate.release('a');
  gate.release('c');
  await run.done;
  assert.deepEqual(run.started, ['a', 'b', 'c', 'd']);
  assert.equal(gate.holding, 1);
  gate.close();
});

test('a start that never reports frees its slot after slotMs', async () => {
  const gate = new StartGate(1, 50);
  const run = startAll(gate, ['stuck', 'next']);
  await tick();
  assert.deepEqual(run.started, ['stuck']);
  // The gate's slot timer is unref'd (it must not keep a stopping daemon alive), so while the test awaits it,
  // a ref'd timer keeps the event loop running: Node 22 ends a loop that holds only unref'd timers.
  const keepAlive = setInterval(() => {}, 1000);
  await run.done.finally(() => clearInterval(keepAlive));
  assert.deepEqual(run.started, ['stuck', 'next']);
  gate.close();
});

test('close() lets every waiting start through and holds nothing', async () => {
  const gate = new StartGate(1, 60_000);
  const run = startAll(gate, ['a', 'b', 'c']);
  await tick();
  gate.close();
  await run.done;
  assert.deepEqual(run.started, ['a', 'b', 'c']);
  assert.equal(gate.holding, 0);
});

test('a concurrency below 1 is refused', () => {
  assert.throws(() => new StartGate(0, 1000), RangeError);
});
