/**
 * The signal policy, with a fake clock and a fake signal source: copies of one event are one stop
 * request; a later one forces the exit; SIGHUP reloads or is ignored, and never stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { installStopSignals, type StopSignalOptions } from '../../src/daemon/stop-signals.ts';

interface Logged {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function harness(extra: Partial<StopSignalOptions> = {}) {
  const source = new EventEmitter();
  const logged: Logged[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void logged.push({ level, msg, fields });
  const log = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } as unknown as StopSignalOptions['log'];
  const exits: number[] = [];
  let clock = 1000;
  let stops = 0;
  let finishStop: (() => void) | undefined;
  let failStop: ((e: Error) => void) | undefined;
  const signals = installStopSignals({
    log,
    source,
    now: () => clock,
    exit: (code) => void exits.push(code),
    stop: () => {
      stops += 1;
      return new Promise<void>((resolve, reject) => {
        finishStop = resolve;
        failStop = reject;
      });
    },
    ...extra,
  });
  const send = (s: NodeJS.Signals) => source.emit(s, s);
  return {
    source,
    signals,
    logged,
    exits,
    send,
    stops: () => stops,
    advance: (ms: number) => void (clock += ms),
    finishStop: () => finishStop!(),
    failStop: (e: Error) => failStop!(e),
  };
}

const settle = () => new Promise((r) => setImmediate(r));

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`${sig} twice at once (the group's copy and npm's): one stop request, drained, exit 0`, async () => {
    const h = harness();
    h.send(sig);
    h.advance(5);
    h.send(sig);
    assert.equal(h.stops(), 1);
    assert.deepEqual(h.exits, []);
    const acks = h.logged.filter((l) => l.msg.startsWith('stop requested'));
    assert.equal(acks.length, 1, 'acknowledged once');
    assert.equal(acks[0]!.msg, `stop requested (signal ${sig}): draining; send it again to force`);
    assert.equal(acks[0]!.fields.signal, sig);
    h.finishStop();
    await settle();
    assert.deepEqual(h.exits, [0]);
  });
}

test('a SIGTERM copy right after SIGINT (mixed signals of one event) is the same request', () => {
  const h = harness();
  h.send('SIGINT');
  h.advance(1499);
  h.send('SIGTERM');
  assert.equal(h.stops(), 1);
  assert.deepEqual(h.exits, []);
});

test('a second request after the window forces exit 1, logged at warn', () => {
  const h = harness();
  h.send('SIGINT');
  h.advance(1500);
  h.send('SIGINT');
  assert.deepEqual(h.exits, [1]);
  assert.equal(h.stops(), 1);
  const forced = h.logged.find((l) => l.level === 'warn');
  assert.equal(forced?.msg, 'second stop request (signal SIGINT): exiting now without draining');
});

test('the window is configurable', () => {
  const h = harness({ sameEventWindowMs: 10_000 });
  h.send('SIGTERM');
  h.advance(5_000);
  h.send('SIGTERM');
  assert.deepEqual(h.exits, []);
  h.advance(5_000);
  h.send('SIGTERM');
  assert.deepEqual(h.exits, [1]);
});

test('a stop that fails exits 1 with the error logged', async () => {
  const h = harness();
  h.send('SIGTERM');
  h.failStop(new Error('boom'));
  await settle();
  assert.deepEqual(h.exits, [1]);
  assert.ok(h.logged.some((l) => l.level === 'error' && l.msg === 'shutdown failed' && l.fields.err === 'boom'));
});

test('SIGHUP without a reload callback: logged at warn, ignored, the daemon keeps running', () => {
  const h = harness();
  h.send('SIGHUP');
  h.send('SIGHUP');
  assert.equal(h.stops(), 0);
  assert.deepEqual(h.exits, []);
  assert.equal(h.signals.stopping, false);
  const warns = h.logged.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 2);
  assert.equal(warns[0]!.msg, 'SIGHUP: reload is not available; ignoring');
});

test('SIGHUP with a reload callback calls it; a failing reload is logged and does not stop', async () => {
  let reloads = 0;
  const h = harness({
    onReload: async () => {
      reloads += 1;
      if (reloads === 2) throw new Error('bad file');
    },
  });
  h.send('SIGHUP');
  h.send('SIGHUP');
  await settle();
  assert.equal(reloads, 2);
  assert.equal(h.stops(), 0);
  assert.deepEqual(h.exits, []);
  assert.ok(h.logged.some((l) => l.level === 'error' && l.msg === 'reload failed' && l.fields.err === 'bad file'));
});

test('SIGHUP while stopping does not reload; a stop signal still works after SIGHUP', () => {
  let reloads = 0;
  const h = harness({ onReload: () => void (reloads += 1) });
  h.send('SIGTERM');
  h.send('SIGHUP');
  assert.equal(reloads, 0);
  assert.equal(h.stops(), 1);
  assert.equal(h.signals.stopping, true);
});

test('requestStop works like a signal; uninstall removes every handler', () => {
  const h = harness();
  assert.equal(h.source.listenerCount('SIGINT'), 1);
  h.signals.requestStop('SIGTERM');
  assert.equal(h.stops(), 1);
  h.signals.uninstall();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) assert.equal(h.source.listenerCount(s), 0, s);
});
