import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planOf } from '../../src/schedule/cron.ts';
import { dueSlot, nextSlot, slotMessageId } from '../../src/schedule/slots.ts';

const at = (iso: string) => new Date(iso).getTime();
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Every slot from `from` to `to`, by walking nextSlot, as the scheduler's timer would. */
function slotsBetween(cron: string, timezone: string, from: string, to: string): string[] {
  const plan = planOf({ cron, timezone });
  const out: string[] = [];
  for (let t = nextSlot(plan, at(from)); t !== null && t <= at(to); t = nextSlot(plan, t)) out.push(iso(t)!);
  return out;
}

test('spring forward: a 02:30 slot skipped by the clock runs once that day, right after the gap', () => {
  // Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST, so 02:30 never happens.
  assert.deepEqual(slotsBetween('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z'), [
    '2026-03-28T01:30:00.000Z', // 02:30 CET
    '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first time after the gap
    '2026-03-30T00:30:00.000Z', // 02:30 CEST
  ]);
});

test('fall back: a 01:30 slot that happens twice runs once, at the first', () => {
  // America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST, so 01:30 happens twice.
  assert.deepEqual(slotsBetween('30 1 * * *', 'America/New_York', '2026-10-31T00:00:00Z', '2026-11-02T12:00:00Z'), [
    '2026-10-31T05:30:00.000Z',
    '2026-11-01T05:30:00.000Z', // 01:30 EDT; the 01:30 EST an hour later is not a slot
    '2026-11-02T06:30:00.000Z',
  ]);
});

test('an hourly schedule keeps running hourly through a fall-back night', () => {
  const slots = slotsBetween('0 * * * *', 'America/New_York', '2026-11-01T04:30:00Z', '2026-11-01T07:30:00Z');
  assert.deepEqual(slots, ['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z']);
});

test('missed slots collapse into the newest one', () => {
  const plan = planOf({ cron: '*/5 * * * *', timezone: 'UTC' });
  // Down from 10:02 to 13:41: 43 slots missed, one run, for 13:40.
  assert.equal(iso(dueSlot(plan, at('2026-05-04T10:00:00Z'), at('2026-05-04T13:41:00Z'))), '2026-05-04T13:40:00.000Z');
  // A minutely schedule after 90 days down: still the newest slot, found without walking them all.
  const minutely = planOf({ cron: '* * * * *', timezone: 'UTC' });
  assert.equal(iso(dueSlot(minutely, at('2026-01-01T00:00:00Z'), at('2026-04-01T08:07:30Z'))), '2026-04-01T08:07:00.000Z');
  // A yearly schedule missed two years ago is still due, once.
  const yearly = planOf({ cron: '0 0 1 1 *', timezone: 'Europe/Helsinki' });
  assert.equal(iso(dueSlot(yearly, at('2023-06-01T00:00:00Z'), at('2025-06-01T00:00:00Z'))), '2024-12-31T22:00:00.000Z');
});

test('nothing is due when the newest slot was handled, or the next one is still ahead', () => {
  const plan = planOf({ cron: '0 9 * * 1-5', timezone: 'Europe/Helsinki' });
  assert.equal(dueSlot(plan, at('2026-05-04T06:00:00Z'), at('2026-05-04T12:00:00Z')), null); // Monday 09:00 handled
  assert.equal(dueSlot(plan, at('2026-05-04T07:00:00Z'), at('2026-05-05T05:59:59Z')), null); // Tuesday's not yet
  assert.equal(iso(dueSlot(plan, at('2026-05-04T07:00:00Z'), at('2026-05-05T06:00:00Z'))), '2026-05-05T06:00:00.000Z'); // exactly at it
  // The weekend has no slots: Friday handled, Monday not yet.
  assert.equal(dueSlot(plan, at('2026-05-08T06:00:00Z'), at('2026-05-11T05:00:00Z')), null);
});

test('a slot has one Message-ID, different for every repository, schedule and slot', () => {
  const a = slotMessageId('api', 'nightly', at('2026-05-04T02:30:00Z'), 'repo.example');
  assert.equal(a, slotMessageId('api', 'nightly', at('2026-05-04T02:30:00Z'), 'repo.example'));
  assert.match(a, /^<airut-schedule\.api\.nightly\.\d+@repo\.example>$/);
  assert.notEqual(a, slotMessageId('web', 'nightly', at('2026-05-04T02:30:00Z'), 'repo.example'));
  assert.notEqual(a, slotMessageId('api', 'weekly', at('2026-05-04T02:30:00Z'), 'repo.example'));
  assert.notEqual(a, slotMessageId('api', 'nightly', at('2026-05-05T02:30:00Z'), 'repo.example'));
});
