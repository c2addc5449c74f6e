/** The Overview's aggregates on a real SQLite store: every number of a seeded month checked by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  costPerDayByRepo,
  DAY_MS,
  queueWaitPercentiles,
  rejectedByReason,
  runTimePercentiles,
  tasksPerDayByStatus,
} from '../../src/store/overview-stats.ts';
import { insertTask, tempDb } from '../dashboard/helpers.ts';

const D1 = Date.UTC(2026, 10, 1); // 2026-11-01
const D2 = D1 + DAY_MS;
const D3 = D2 + DAY_MS;

function seeded() {
  const t = tempDb();
  const { db } = t;
  // Day 1, alpha: waits of 1..10 s, runs of 10..100 s, $0.10 each; one failed of them.
  for (let i = 1; i <= 10; i++) {
    const created = D1 + 3_600_000 + i;
    insertTask(db, {
      repoId: 'alpha',
      status: i === 10 ? 'failed' : 'completed',
      costUsd: 0.1,
      createdAt: created,
      startedAt: created + i * 1000,
      finishedAt: created + i * 1000 + i * 10_000,
    });
  }
  // Day 1, beta: one still running (a wait, no run time), one rejected, one queued at the day's last ms.
  insertTask(db, { repoId: 'beta', status: 'running', createdAt: D1 + 10, startedAt: D1 + 510 });
  insertTask(db, { repoId: 'beta', status: 'rejected', reason: 'unauthorized', createdAt: D1 + 20 });
  insertTask(db, { repoId: 'beta', status: 'queued', createdAt: D2 - 1 });
  // Day 2, beta: three waits 100/200/300 ms, finished on day 3 (cost counts on day 3), $1.25 and $2.
  insertTask(db, { repoId: 'beta', status: 'completed', costUsd: 1.25, createdAt: D2, startedAt: D2 + 300, finishedAt: D3 + 5 });
  insertTask(db, { repoId: 'beta', status: 'timeout', costUsd: 2, createdAt: D2 + 1, startedAt: D2 + 101, finishedAt: D3 + 6 });
  insertTask(db, { repoId: 'beta', status: 'cancelled', createdAt: D2 + 2, startedAt: D2 + 202, finishedAt: D2 + 902 });
  insertTask(db, { repoId: 'beta', status: 'rejected', reason: 'unauthorized', createdAt: D2 + 3 });
  insertTask(db, { repoId: 'alpha', status: 'rejected', reason: 'auth_failed', createdAt: D2 + 4 });
  insertTask(db, { repoId: 'alpha', status: 'rejected', reason: null, createdAt: D2 + 5 });
  // Day 3: 200 waits of 1..200 ms in gamma.
  for (let i = 1; i <= 200; i++) insertTask(db, { repoId: 'gamma', status: 'completed', createdAt: D3 + i, startedAt: D3 + i + i, finishedAt: D3 + 3 * i + 7 });
  // Outside the range on both sides: never counted.
  insertTask(db, { repoId: 'alpha', status: 'completed', costUsd: 50, createdAt: D1 - 1, startedAt: D1 - 1, finishedAt: D1 - 1 });
  insertTask(db, { repoId: 'alpha', status: 'rejected', reason: 'loop', createdAt: D3 + DAY_MS });
  return t;
}

const ALL = { since: D1, until: D3 + DAY_MS };

test('tasks are counted per UTC day of arrival and status, the range end excluded', () => {
  const t = seeded();
  try {
    assert.deepEqual(tasksPerDayByStatus(t.db, ALL), [
      { day: '2026-11-01', status: 'completed', count: 9 },
      { day: '2026-11-01', status: 'failed', count: 1 },
      { day: '2026-11-01', status: 'queued', count: 1 },
      { day: '2026-11-01', status: 'rejected', count: 1 },
      { day: '2026-11-01', status: 'running', count: 1 },
      { day: '2026-11-02', status: 'cancelled', count: 1 },
      { day: '2026-11-02', status: 'completed', count: 1 },
      { day: '2026-11-02', status: 'rejected', count: 3 },
      { day: '2026-11-02', status: 'timeout', count: 1 },
      { day: '2026-11-03', status: 'completed', count: 200 },
    ]);
    assert.deepEqual(tasksPerDayByStatus(t.db, { ...ALL, repoId: 'beta' }).map((r) => [r.day, r.status, r.count]), [
      ['2026-11-01', 'queued', 1],
      ['2026-11-01', 'rejected', 1],
      ['2026-11-01', 'running', 1],
      ['2026-11-02', 'cancelled', 1],
      ['2026-11-02', 'completed', 1],
      ['2026-11-02', 'rejected', 1],
      ['2026-11-02', 'timeout', 1],
    ]);
  } finally {
    t.cleanup();
  }
});

test('cost is summed per UTC day of finishing and repository', () => {
  const t = seeded();
  try {
    const rows = costPerDayByRepo(t.db, ALL).map((r) => ({ ...r, usd: Math.round(r.usd * 1e6) / 1e6 }));
    assert.deepEqual(rows, [
      { day: '2026-11-01', repoId: 'alpha', usd: 1 },
      { day: '2026-11-03', repoId: 'beta', usd: 3.25 },
    ]);
    assert.deepEqual(costPerDayByRepo(t.db, { ...ALL, repoId: 'gamma' }), []);
  } finally {
    t.cleanup();
  }
});

test('queue wait percentiles are nearest-rank per day', () => {
  const t = seeded();
  try {
    assert.deepEqual(queueWaitPercentiles(t.db, ALL), [
      // 1..10 s and beta's 500 ms: 11 values; ranks ceil(5.5)=6, ceil(9.9)=10, ceil(10.89)=11.
      { day: '2026-11-01', count: 11, p50: 5000, p90: 9000, p99: 10_000 },
      // 100, 200, 300: ranks 2, 3, 3.
      { day: '2026-11-02', count: 3, p50: 200, p90: 300, p99: 300 },
      // 1..200: ranks 100, 180, 198.
      { day: '2026-11-03', count: 200, p50: 100, p90: 180, p99: 198 },
    ]);
    assert.deepEqual(queueWaitPercentiles(t.db, { ...ALL, repoId: 'beta' }), [
      { day: '2026-11-01', count: 1, p50: 500, p90: 500, p99: 500 },
      { day: '2026-11-02', count: 3, p50: 200, p90: 300, p99: 300 },
    ]);
  } finally {
    t.cleanup();
  }
});

test('run time percentiles count finished tasks only, on the day they arrived', () => {
  const t = seeded();
  try {
    const runs = runTimePercentiles(t.db, ALL);
    // Day 2: runs of beta are D3+5-(D2+300), D3+6-(D2+101), 700 ms.
    const day2 = [700, DAY_MS - 295, DAY_MS - 95];
    assert.deepEqual(runs, [
      { day: '2026-11-01', count: 10, p50: 50_000, p90: 90_000, p99: 100_000 },
      { day: '2026-11-02', count: 3, p50: day2[1], p90: day2[2], p99: day2[2] },
      // 1..200 ms plus 7: ranks 100, 180, 198.
      { day: '2026-11-03', count: 200, p50: 107, p90: 187, p99: 205 },
    ]);
  } finally {
    t.cleanup();
  }
});

test('rejected mail is counted by reason, most frequent first, a missing reason as unknown', () => {
  const t = seeded();
  try {
    assert.deepEqual(rejectedByReason(t.db, ALL), [
      { reason: 'unauthorized', count: 2 },
      { reason: 'auth_failed', count: 1 },
      { reason: 'unknown', count: 1 },
    ]);
    assert.deepEqual(rejectedByReason(t.db, { ...ALL, repoId: 'alpha' }), [
      { reason: 'auth_failed', count: 1 },
      { reason: 'unknown', count: 1 },
    ]);
    assert.deepEqual(rejectedByReason(t.db, { since: D3, until: D3 + DAY_MS }), []);
  } finally {
    t.cleanup();
  }
});
