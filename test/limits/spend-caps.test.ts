import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SpendingLimits } from '../../src/config/types.ts';
import { explainSpendCap } from '../../src/limits/explain-spend.ts';
import { findSpendCapHit, formatUsd, monthBounds, SPEND_DAY_MS, type ScopeSpend, type SpendFigures } from '../../src/limits/spend-caps.ts';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const H = 60 * 60 * 1000;
const NO_CAPS: SpendingLimits = { taskUsd: null, senderPerDayUsd: null, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null };
const NOTHING: ScopeSpend = { dayFinished: [], monthFinishedUsd: 0, runningUsd: 0 };

function figures(sender: Partial<ScopeSpend> = {}, repo: Partial<ScopeSpend> = {}): SpendFigures {
  return { sender: { ...NOTHING, ...sender }, repo: { ...NOTHING, ...repo } };
}

test('monthBounds gives the UTC calendar month, across a year end', () => {
  assert.deepEqual(monthBounds(NOW), { start: Date.UTC(2026, 11, 1), next: Date.UTC(2027, 0, 1) });
  assert.deepEqual(monthBounds(Date.UTC(2026, 1, 28, 23, 59)), { start: Date.UTC(2026, 1, 1), next: Date.UTC(2026, 2, 1) });
});

const day = [
  { at: NOW - 20 * H, usd: 3 },
  { at: NOW - 5 * H, usd: 4 },
];

const cases: Array<{
  name: string;
  f: SpendFigures;
  caps: Partial<SpendingLimits>;
  budget: number | null;
  want: null | { scope: string; period: string; spentUsd: number; capUsd: number; resetsAt: number | null };
}> = [
  { name: 'no caps: always runs', f: figures({ dayFinished: day, monthFinishedUsd: 100 }), caps: {}, budget: 5, want: null },
  { name: 'fits under the sender day cap with its budget', f: figures({ dayFinished: day }), caps: { senderPerDayUsd: 10 }, budget: 3, want: null },
  {
    name: 'spend + budget over the sender day cap: resets when the oldest task leaves the 24 h',
    f: figures({ dayFinished: day }),
    caps: { senderPerDayUsd: 10 },
    budget: 4,
    want: { scope: 'sender', period: 'day', spentUsd: 7, capUsd: 10, resetsAt: NOW - 20 * H + SPEND_DAY_MS },
  },
  {
    name: 'needs both finished tasks to leave the window',
    f: figures({ dayFinished: day }),
    caps: { senderPerDayUsd: 10 },
    budget: 8,
    want: { scope: 'sender', period: 'day', spentUsd: 7, capUsd: 10, resetsAt: NOW - 5 * H + SPEND_DAY_MS },
  },
  {
    name: 'running budgets count: when they alone hold the cap, no time is given',
    f: figures({ dayFinished: day, runningUsd: 9 }),
    caps: { senderPerDayUsd: 10 },
    budget: 2,
    want: { scope: 'sender', period: 'day', spentUsd: 16, capUsd: 10, resetsAt: null },
  },
  {
    name: 'a budget larger than the cap itself can never fit',
    f: figures(),
    caps: { senderPerMonthUsd: 1 },
    budget: 2,
    want: { scope: 'sender', period: 'month', spentUsd: 0, capUsd: 1, resetsAt: null },
  },
  { name: 'an exact fit runs', f: figures({ monthFinishedUsd: 0.1 + 0.2 }), caps: { senderPerMonthUsd: 0.5 }, budget: 0.2, want: null },
  {
    name: 'no task budget: runs while below the cap, refused at it',
    f: figures({ dayFinished: [{ at: NOW - H, usd: 10 }] }),
    caps: { senderPerDayUsd: 10 },
    budget: null,
    want: { scope: 'sender', period: 'day', spentUsd: 10, capUsd: 10, resetsAt: NOW - H + SPEND_DAY_MS },
  },
  { name: 'no task budget, below the cap: runs', f: figures({ dayFinished: [{ at: NOW - H, usd: 9.99 }] }), caps: { senderPerDayUsd: 10 }, budget: null, want: null },
  {
    name: 'month cap resets at the start of next month (UTC)',
    f: figures({}, { monthFinishedUsd: 99 }),
    caps: { repoPerMonthUsd: 100 },
    budget: 2,
    want: { scope: 'repo', period: 'month', spentUsd: 99, capUsd: 100, resetsAt: Date.UTC(2027, 0, 1) },
  },
  {
    name: 'several caps broken: the one that lifts last is named',
    f: figures({ dayFinished: day, monthFinishedUsd: 50 }),
    caps: { senderPerDayUsd: 5, senderPerMonthUsd: 50 },
    budget: 1,
    want: { scope: 'sender', period: 'month', spentUsd: 50, capUsd: 50, resetsAt: Date.UTC(2027, 0, 1) },
  },
  {
    name: 'the repository cap counts all senders',
    f: figures({ dayFinished: [] }, { dayFinished: day }),
    caps: { senderPerDayUsd: 10, repoPerDayUsd: 8 },
    budget: 2,
    want: { scope: 'repo', period: 'day', spentUsd: 7, capUsd: 8, resetsAt: NOW - 20 * H + SPEND_DAY_MS },
  },
];

for (const c of cases) {
  test(`spend caps: ${c.name}`, () => {
    const hit = findSpendCapHit(c.f, { ...NO_CAPS, ...c.caps }, c.budget, NOW);
    if (c.want === null) return assert.equal(hit, null);
    assert.ok(hit, 'expected a cap to be hit');
    assert.deepEqual(
      { scope: hit.scope, period: hit.period, spentUsd: Math.round(hit.spentUsd * 1e6) / 1e6, capUsd: hit.capUsd, resetsAt: hit.resetsAt },
      c.want,
    );
    assert.equal(hit.taskBudgetUsd, c.budget);
  });
}

test('the spend-cap reply names the figures, the reset time and the key to raise', () => {
  const hit = findSpendCapHit(figures({ dayFinished: day }), { ...NO_CAPS, senderPerDayUsd: 10 }, 4, NOW)!;
  const text = explainSpendCap(hit);
  assert.match(text.message, /Your tasks in this repository have spent \$7\.00 in the last 24 hours; one sender may spend at most \$10\.00\./);
  assert.match(text.message, /budget of \$4\.00/);
  assert.match(text.message, /Send it again after 2026-12-03 16:00 UTC/);
  assert.match(text.message, /`budget\.sender_per_day_usd`/);
  assert.doesNotMatch(text.detail, /\n/);
  assert.match(text.detail, /\(budget\.sender_per_day_usd\)/);
});

test('the spend-cap reply for a budget above the cap says no task can start', () => {
  const hit = findSpendCapHit(figures(), { ...NO_CAPS, repoPerMonthUsd: 1 }, 2, NOW)!;
  assert.match(explainSpendCap(hit).message, /more than the cap itself/);
  assert.match(explainSpendCap(hit).message, /`budget\.repo_per_month_usd`/);
});

test('formatUsd keeps fractions of a cent visible', () => {
  assert.equal(formatUsd(0.0008), '$0.0008');
  assert.equal(formatUsd(12.345), '$12.35');
});
