/**
 * GET /api/overview and /overview over a real store: the JSON equals what the seeded rows say
 * (aggregated here in plain JS from a direct SELECT, not by the store's queries), bad input is a
 * clear 400, hostile repository names and reasons stay text, auth is the API's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import type { TaskStatus } from '../../src/store/task-queries.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const DAY = 86_400_000;
/** 2026-11-20 15:00 UTC: "today" of these tests. */
const NOW = Date.UTC(2026, 10, 20, 15);
const TODAY = Date.UTC(2026, 10, 20);
const BASE = 'http://localhost';
const STATUSES: TaskStatus[] = ['completed', 'completed', 'failed', 'timeout', 'cancelled', 'rejected', 'completed', 'running', 'queued'];
const REASONS = ['unauthorized', 'auth_failed', 'loop'];

interface Row {
  repo_id: string;
  status: string;
  reason: string | null;
  cost_usd: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** A deterministic spread of tasks over 40 days (some older than any range) in three repositories. */
function seed(db: Db): void {
  let x = 7;
  const rnd = (n: number): number => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % n);
  for (let i = 0; i < 400; i++) {
    const repoId = ['alpha', 'beta', 'gamma'][rnd(3)]!;
    const status = STATUSES[rnd(STATUSES.length)]!;
    const createdAt = TODAY - rnd(40) * DAY + rnd(DAY);
    if (createdAt > NOW) continue;
    const started = status === 'rejected' || status === 'queued' ? null : createdAt + rnd(600_000);
    const finished = started === null || status === 'running' ? null : started + rnd(3 * DAY);
    insertTask(db, {
      repoId,
      status,
      reason: status === 'rejected' ? REASONS[rnd(3)]! : null,
      costUsd: finished === null ? null : rnd(10_000) / 1000,
      createdAt,
      startedAt: started,
      finishedAt: finished,
    });
  }
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Nearest rank: the value at 1-based rank ceil(p·n/100) of the sorted values. */
function nearestRank(sorted: number[], p: number): number {
  return sorted[Math.ceil((p * sorted.length) / 100) - 1]!;
}

function expected(rows: Row[], days: number, repo: string | null) {
  const dates = Array.from({ length: days }, (_, i) => day(TODAY - (days - 1 - i) * DAY));
  const inRange = (ms: number | null): boolean => ms !== null && dates.includes(day(ms));
  const mine = rows.filter((r) => repo === null || r.repo_id === repo);
  const arrived = mine.filter((r) => inRange(r.created_at));
  const perDay = (pick: (r: Row) => boolean, value: (rs: Row[]) => number) =>
    dates.map((d) => value(arrived.filter((r) => day(r.created_at) === d && pick(r))));
  const statuses = [...new Set(arrived.map((r) => r.status))];
  const tasks = new Map(statuses.map((s) => [s, perDay((r) => r.status === s, (rs) => rs.length)]));
  const costRows = mine.filter((r) => r.cost_usd !== null && inRange(r.finished_at));
  const cost = new Map(
    [...new Set(costRows.map((r) => r.repo_id))].map((id) => [
      id,
      dates.map((d) => costRows.filter((r) => r.repo_id === id && day(r.finished_at!) === d).reduce((s, r) => s + r.cost_usd!, 0)),
    ]),
  );
  const pct = (value: (r: Row) => number | null) => {
    const per = dates.map((d) =>
      arrived
        .filter((r) => day(r.created_at) === d)
        .map(value)
        .filter((v): v is number => v !== null)
        .sort((a, b) => a - b),
    );
    return {
      count: per.map((v) => v.length),
      p50: per.map((v) => (v.length ? nearestRank(v, 50) : null)),
      p90: per.map((v) => (v.length ? nearestRank(v, 90) : null)),
      p99: per.map((v) => (v.length ? nearestRank(v, 99) : null)),
    };
  };
  const rejected = new Map<string, number>();
  for (const r of arrived) if (r.status === 'rejected') rejected.set(r.reason ?? 'unknown', (rejected.get(r.reason ?? 'unknown') ?? 0) + 1);
  return {
    dates,
    tasks,
    cost,
    wait: pct((r) => (r.started_at === null ? null : r.started_at - r.created_at)),
    run: pct((r) => (r.started_at === null || r.finished_at === null ? null : r.finished_at - r.started_at)),
    rejected: [...rejected].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
  };
}

const round = (vs: readonly number[]): number[] => vs.map((v) => Math.round(v * 1e6) / 1e6);

describe('the Overview API', () => {
  let db: Db;
  let cleanup: () => void;
  let app: ReturnType<typeof createDashboardApp>;

  before(() => {
    ({ db, cleanup } = tempDb());
    seed(db);
    app = createDashboardApp({ ...makeOptions(db, makeConfig(['alpha', 'beta', 'gamma'])).options, now: () => NOW });
  });
  after(() => cleanup());

  for (const [days, repo] of [[7, null], [30, null], [30, 'beta'], [90, 'gamma']] as const) {
    it(`returns what the rows say for days=${days}${repo ? ` repo=${repo}` : ''}`, async () => {
      const r = await app.request(`${BASE}/api/overview?days=${days}${repo ? `&repo=${repo}` : ''}`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/);
      const body = (await r.json()) as any;
      const rows = db.prepare(`SELECT repo_id, status, reason, cost_usd, created_at, started_at, finished_at FROM tasks`).all() as unknown as Row[];
      const want = expected(rows, days, repo);
      assert.equal(body.days, days);
      assert.equal(body.repo, repo);
      assert.deepEqual(body.dates, want.dates);
      assert.equal(body.dates.at(-1), '2026-11-20');
      assert.deepEqual(new Map(body.tasksByOutcome.map((s: any) => [s.name, s.values])), want.tasks);
      assert.deepEqual(new Map(body.costByRepo.map((s: any) => [s.name, round(s.values)])), new Map([...want.cost].map(([k, v]) => [k, round(v)])));
      assert.deepEqual(body.queueWaitMs, want.wait);
      assert.deepEqual(body.runTimeMs, want.run);
      assert.deepEqual(body.rejectedByReason, want.rejected);
      assert.ok(want.tasks.size >= 3 && want.rejected.length >= 1, 'the seed covers several series');
    });
  }

  it('defaults to 30 days of all repositories', async () => {
    const body = (await (await app.request(`${BASE}/api/overview`)).json()) as any;
    assert.equal(body.days, 30);
    assert.equal(body.repo, null);
    assert.equal(body.dates.length, 30);
  });

  for (const [query, message] of [
    ['days=14', /days must be one of 7, 30, 90/],
    ['days=abc', /days must be one of 7, 30, 90/],
    ['days=30.0', /days must be one of 7, 30, 90/],
    [`repo=${'x'.repeat(201)}`, /repo must be a repository id/],
  ] as const) {
    it(`refuses ${query.slice(0, 20)} with a 400 that says what to send`, async () => {
      const api = await app.request(`${BASE}/api/overview?${query}`);
      assert.equal(api.status, 400);
      assert.match(JSON.stringify(await api.json()), message);
      const page = await app.request(`${BASE}/overview?${query}`, { headers: { accept: 'text/html' } });
      assert.equal(page.status, 400);
      assert.match(await page.text(), message);
    });
  }
});

describe('the Overview page and API, guarded and escaped', () => {
  it('needs the token like every API route', async () => {
    const t = tempDb();
    try {
      const app = createDashboardApp(makeOptions(t.db, makeConfig(['alpha'], { authToken: 'tok-overview-123456' })).options);
      assert.equal((await app.request(`${BASE}/api/overview`)).status, 401);
      const ok = await app.request(`${BASE}/api/overview`, { headers: { authorization: 'Bearer tok-overview-123456' } });
      assert.equal(ok.status, 200);
    } finally {
      t.cleanup();
    }
  });

  it('shows hostile repository names and reasons as text, in the SVG, the legend and the table', async () => {
    const t = tempDb();
    try {
      const repo = '<script>alert(1)</script>';
      const reason = '"><img src=x onerror=alert(2)>';
      insertTask(t.db, { repoId: repo, status: 'completed', costUsd: 1.5, createdAt: NOW - 3_600_000, startedAt: NOW - 3_500_000, finishedAt: NOW - 3_000_000 });
      insertTask(t.db, { repoId: repo, status: 'rejected', reason, createdAt: NOW - 3_600_000 });
      const app = createDashboardApp({ ...makeOptions(t.db, makeConfig(['alpha'])).options, now: () => NOW });
      const html = await (await app.request(`${BASE}/overview`, { headers: { accept: 'text/html' } })).text();
      assert.ok(!html.includes('<script>alert'), 'no script element from a repository name');
      assert.ok(!html.includes('<img src=x'), 'no img element from a reason');
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the name is shown, escaped');
      assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;'), 'the reason is shown, escaped');
      const json = (await (await app.request(`${BASE}/api/overview?repo=${encodeURIComponent(repo)}`)).json()) as any;
      assert.deepEqual(json.rejectedByReason, [{ reason, count: 1 }]);
      assert.deepEqual(json.costByRepo.map((s: any) => s.name), [repo]);
    } finally {
      t.cleanup();
    }
  });
});
