/**
 * /metrics reads totals that migration 20's triggers keep (src/store/metric-totals.ts). They must equal
 * the figures computed from the rows (src/dashboard/metrics-recount.ts) after any sequence of writes,
 * by any writer, and after the migration over a database that already holds rows. A deleted task must
 * leave the gauges but stay in the counters: the expected counters are the recount over the rows that
 * exist plus the recount over the deleted rows, kept in a second database.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { collectMetrics, renderMetrics, snapshotFromFigures } from '../../src/dashboard/metrics.ts';
import { recountMetricFigures } from '../../src/dashboard/metrics-recount.ts';
import { TASK_STATUSES, type DurationHistogram } from '../../src/store/dashboard-queries.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import type { MetricFigures } from '../../src/store/metric-totals.ts';
import { migrate } from '../../src/store/migrations.ts';

/** Fixed, so that a failure reproduces; fast-check prints the counterexample. */
const SEED = 2323;
const REPOS = ['alpha', 'beta', 'gamma'];
const CONFIGURED = ['alpha', 'beta', 'delta'];

const taskFields = fc.record({
  repo: fc.constantFrom(...REPOS),
  status: fc.constantFrom(...TASK_STATUSES),
  reason: fc.constantFrom(null, 'unauthorized', 'loop', 'too_large'),
  sender: fc.constantFrom(null, '', 'a@example.com', 'b@example.com'),
  cost: fc.option(fc.double({ min: 0, max: 20, noNaN: true }), { nil: null }),
  started: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: null }),
  // A run time from 0 to ~3 h, negative now and then (a clock step), boundaries included.
  runMs: fc.oneof(fc.integer({ min: -5_000, max: 10_000_000 }), fc.constantFrom(5_000, 15_000, 7_200_000, 7_200_001)),
  finished: fc.boolean(),
});
type TaskFields = typeof taskFields extends fc.Arbitrary<infer T> ? T : never;

const op = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), task: taskFields }),
  fc.record({ kind: fc.constant('update' as const), pick: fc.nat(), task: taskFields, columns: fc.subarray(['repo_id', 'status', 'reason', 'sender', 'cost_usd', 'started_at', 'finished_at'], { minLength: 1 }) }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('mail' as const), repo: fc.constantFrom(...REPOS), status: fc.constantFrom('pending', 'sent', 'failed') }),
  fc.record({ kind: fc.constant('mail-update' as const), pick: fc.nat(), repo: fc.constantFrom(...REPOS), status: fc.constantFrom('pending', 'sent', 'failed') }),
  fc.record({ kind: fc.constant('mail-delete' as const), pick: fc.nat() }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function columns(t: TaskFields): Record<string, unknown> {
  return {
    repo_id: t.repo,
    status: t.status,
    reason: t.reason,
    sender: t.sender,
    cost_usd: t.cost,
    started_at: t.started,
    finished_at: t.started !== null && t.finished ? t.started + t.runMs : null,
  };
}

function seedMessage(db: Db | Database.Database): void {
  db.prepare(`INSERT INTO messages (id, repo_id, raw_sha256, size, raw, received_at) VALUES (1, 'alpha', 'x', 1, x'00', 1)`).run();
}

function insertTask(db: Db | Database.Database, t: TaskFields): void {
  const c = columns(t);
  db.prepare(
    `INSERT INTO tasks (repo_id, message_row, status, reason, sender, cost_usd, started_at, finished_at, created_at)
     VALUES (:repo_id, 1, :status, :reason, :sender, :cost_usd, :started_at, :finished_at, 0)`,
  ).run(c);
}

function pickId(db: Db, table: 'tasks' | 'outgoing_mail', pick: number): number | null {
  const ids = (db.prepare(`SELECT id FROM ${table} ORDER BY id`).all() as Array<{ id: number }>).map((r) => r.id);
  return ids.length ? ids[pick % ids.length]! : null;
}

/** Applies one write as a writer would; a deleted task is copied to `gone` first. */
function apply(db: Db, gone: Database.Database, o: Op): void {
  switch (o.kind) {
    case 'insert':
      return insertTask(db, o.task);
    case 'update': {
      const id = pickId(db, 'tasks', o.pick);
      if (id === null) return;
      const c = columns(o.task);
      db.prepare(`UPDATE tasks SET ${o.columns.map((k) => `${k} = :${k}`).join(', ')} WHERE id = :id`).run({ ...c, id });
      return;
    }
    case 'delete': {
      const id = pickId(db, 'tasks', o.pick);
      if (id === null) return;
      const row = db.prepare(`SELECT repo_id, status, reason, sender, cost_usd, started_at, finished_at FROM tasks WHERE id = ?`).get(id) as Record<string, unknown>;
      gone.prepare(
        `INSERT INTO tasks (repo_id, message_row, status, reason, sender, cost_usd, started_at, finished_at, created_at)
         VALUES (:repo_id, 1, :status, :reason, :sender, :cost_usd, :started_at, :finished_at, 0)`,
      ).run(row);
      db.prepare(`DELETE FROM tasks WHERE id = ?`).run(id);
      return;
    }
    case 'mail':
      db.prepare(
        `INSERT INTO outgoing_mail (repo_id, kind, message_id, recipient, subject, raw, status, next_attempt_at, created_at)
         VALUES (?, 'reply', '<r@x>', 'a@example.com', 's', x'', ?, 0, 0)`,
      ).run(o.repo, o.status);
      return;
    case 'mail-update': {
      const id = pickId(db, 'outgoing_mail', o.pick);
      if (id !== null) db.prepare(`UPDATE outgoing_mail SET repo_id = ?, status = ? WHERE id = ?`).run(o.repo, o.status, id);
      return;
    }
    case 'mail-delete': {
      const id = pickId(db, 'outgoing_mail', o.pick);
      if (id !== null) db.prepare(`DELETE FROM outgoing_mail WHERE id = ?`).run(id);
      return;
    }
  }
}

function addCounts<K>(entries: Iterable<readonly [K, number]>): Map<K, number> {
  const m = new Map<K, number>();
  for (const [k, n] of entries) m.set(k, (m.get(k) ?? 0) + n);
  return m;
}

function addHistograms(a: DurationHistogram | undefined, b: DurationHistogram | undefined): DurationHistogram {
  if (!a || !b) return (a ?? b)!;
  return { bounds: a.bounds, cumulative: a.cumulative.map((n, i) => n + b.cumulative[i]!), sum: a.sum + b.sum, count: a.count + b.count };
}

/** Counters over both the rows there are and the rows deleted; gauges over the rows there are. */
function expected(live: MetricFigures, deleted: MetricFigures): MetricFigures {
  const key = (repo: string, x: string): string => `${repo}\u0000${x}`;
  const split = (k: string): [string, string] => k.split('\u0000') as [string, string];
  const statuses = addCounts([...live.tasksByRepoStatus, ...deleted.tasksByRepoStatus].map((c) => [key(c.repoId, c.status), c.count] as const));
  const reasons = addCounts([...live.rejectedByReason, ...deleted.rejectedByReason].map((c) => [key(c.repoId, c.reason), c.count] as const));
  const spend = addCounts([...live.spend, ...deleted.spend].map((s) => [key(s.repoId, s.sender), s.usd] as const));
  const durations = new Map<string, DurationHistogram>();
  for (const id of new Set([...live.durations.keys(), ...deleted.durations.keys()])) durations.set(id, addHistograms(live.durations.get(id), deleted.durations.get(id)));
  return {
    tasksByRepoStatus: [...statuses].map(([k, count]) => ({ repoId: split(k)[0], status: split(k)[1] as never, count })),
    rejectedByReason: [...reasons].map(([k, count]) => ({ repoId: split(k)[0], reason: split(k)[1], count })),
    queued: live.queued,
    running: live.running,
    durations,
    repliesPending: live.repliesPending,
    spend: [...spend].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, usd]) => ({ repoId: split(k)[0], sender: split(k)[1], usd })),
  };
}

/** The exposition text as (series, value) pairs; values as numbers, for a comparison that allows float rounding. */
function series(text: string): Array<[string, number]> {
  return text
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => {
      const at = l.lastIndexOf(' ');
      return [l.slice(0, at), Number(l.slice(at + 1))];
    });
}

/** Same families, series and order; equal values, sums of floats to within rounding. */
function assertSameMetrics(actual: string, wanted: string): void {
  assert.deepEqual(
    actual.split('\n').filter((l) => l.startsWith('#')),
    wanted.split('\n').filter((l) => l.startsWith('#')),
  );
  const a = series(actual);
  const w = series(wanted);
  assert.deepEqual(a.map(([s]) => s), w.map(([s]) => s));
  a.forEach(([s, v], i) => {
    const want = w[i]![1];
    assert.ok(Math.abs(v - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${s}: ${v}, expected ${want}`);
  });
}

function render(f: MetricFigures): string {
  return renderMetrics(snapshotFromFigures(f, new Map(), CONFIGURED));
}

test('after any sequence of inserts, transitions and deletes, the kept totals equal the recount (deleted tasks stay in the counters)', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const db = openDatabase(':memory:', { migrate: true });
      const gone = new Database(':memory:');
      try {
        migrate(gone);
        seedMessage(db);
        seedMessage(gone);
        for (const o of ops) apply(db, gone, o);
        const kept = renderMetrics(collectMetrics(db, CONFIGURED));
        assertSameMetrics(kept, render(expected(recountMetricFigures(db), recountMetricFigures(gone as Db))));
        // With nothing deleted, /metrics is exactly what it was before the totals existed.
        if (!ops.some((o) => o.kind === 'delete')) assertSameMetrics(kept, render(recountMetricFigures(db)));
      } finally {
        db.close();
        gone.close();
      }
    }),
    { seed: SEED, numRuns: 150 },
  );
});

test('the migration fills the totals from the rows a database already holds', () => {
  fc.assert(
    fc.property(fc.array(op.filter((o) => o.kind !== 'delete'), { maxLength: 40 }), (ops) => {
      const db = new Database(':memory:') as Db;
      try {
        migrate(db, 19);
        seedMessage(db);
        for (const o of ops) apply(db, db, o);
        migrate(db);
        assertSameMetrics(renderMetrics(collectMetrics(db, CONFIGURED)), render(recountMetricFigures(db)));
      } finally {
        db.close();
      }
    }),
    { seed: SEED, numRuns: 60 },
  );
});

test('a deleted task leaves queue depth and running, but no counter goes down', () => {
  const db = openDatabase(':memory:', { migrate: true });
  seedMessage(db);
  const base = { repo: 'alpha', reason: null, sender: 'a@example.com' as const, cost: 1.5, started: 1_000, runMs: 20_000, finished: true };
  insertTask(db, { ...base, status: 'completed' });
  insertTask(db, { ...base, status: 'queued', cost: null, started: null });
  insertTask(db, { ...base, status: 'rejected', reason: 'loop', cost: null, started: null });
  const before = series(renderMetrics(collectMetrics(db, CONFIGURED)));
  db.prepare(`DELETE FROM tasks`).run();
  const after = new Map(series(renderMetrics(collectMetrics(db, CONFIGURED))));
  for (const [s, v] of before) {
    const gauge = s.startsWith('airut_queue_depth{repo="alpha"}');
    assert.equal(after.get(s), gauge ? 0 : v, s);
  }
  assert.equal(new Map(before).get('airut_queue_depth{repo="alpha"}'), 1);
  db.close();
});
