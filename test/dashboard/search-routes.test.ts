/** Search and filters of the task list through the real app: the page (`/`) and GET /api/tasks, their 400s, paging. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { saveTaskRequest } from '../../src/store/task-content.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const BASE = 'http://localhost';
const HTML = { accept: 'text/html' };
type App = ReturnType<typeof createDashboardApp>;

async function api(app: App, path: string): Promise<{ status: number; body: any }> {
  const r = await app.request(BASE + path);
  return { status: r.status, body: await r.json() };
}

async function page(app: App, path: string): Promise<{ status: number; html: string }> {
  const r = await app.request(BASE + path, { headers: HTML });
  return { status: r.status, html: await r.text() };
}

function cardIds(html: string): number[] {
  return [...html.matchAll(/<article[^>]*data-task-id="(\d+)"/g)].map((m) => Number(m[1]));
}

describe('task list search and filters', () => {
  let db: Db;
  let cleanup: () => void;
  let app: App;
  const deploys: number[] = [];
  let pinned: number;

  before(() => {
    ({ db, cleanup } = tempDb());
    for (let i = 0; i < 5; i++) {
      const id = insertTask(db, { repoId: i % 2 ? 'beta' : 'alpha', status: 'completed', sender: 'ops@example.com', subject: `Weekly ${i}`, createdAt: Date.UTC(2026, 2, 1 + i, 12) });
      saveTaskRequest(db, id, { text: `deploy the staging stack, round ${i}`, original: '' });
      deploys.push(id);
    }
    pinned = insertTask(db, { repoId: 'alpha', status: 'failed', sender: 'Erin@Example.com', subject: 'Pin the toolchain', createdAt: Date.UTC(2026, 2, 10) });
    app = createDashboardApp(makeOptions(db, makeConfig(['alpha', 'beta'])).options);
  });

  after(() => cleanup());

  it('answers the API with the matching tasks, newest first, every filter applied', async () => {
    const all = await api(app, '/api/tasks?q=deploy+staging');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.tasks.map((t: { id: number }) => t.id), [...deploys].reverse());
    const some = await api(app, '/api/tasks?q=depl&repo=beta&status=completed&sender=OPS%40&from=2026-03-02&to=2026-03-04');
    assert.deepEqual(some.body.tasks.map((t: { id: number }) => t.id), [deploys[3], deploys[1]]);
    assert.deepEqual((await api(app, '/api/tasks?sender=erin@example.com')).body.tasks.map((t: { id: number }) => t.id), [pinned]);
    assert.deepEqual((await api(app, '/api/tasks?to=2026-03-01')).body.tasks.map((t: { id: number }) => t.id), [deploys[0]], 'to is inclusive');
    assert.deepEqual((await api(app, '/api/tasks?q=OR+NEAR(%22')).body.tasks, [], 'FTS syntax is searched as words');
  });

  it('pages a search through the API with the before cursor', async () => {
    const p1 = await api(app, '/api/tasks?q=deploy&limit=2');
    assert.deepEqual(p1.body.tasks.map((t: { id: number }) => t.id), [deploys[4], deploys[3]]);
    const p2 = await api(app, `/api/tasks?q=deploy&limit=2&before=${p1.body.nextBefore}`);
    assert.deepEqual(p2.body.tasks.map((t: { id: number }) => t.id), [deploys[2], deploys[1]]);
  });

  it('refuses a malformed search or filter with a 400 that says what is wrong', async () => {
    for (const [query, message] of [
      ['q=' + 'x'.repeat(10_240), /search: the search is 10240 characters long; use at most 500/],
      ['q=%22*%3A', /search: the search has no words to look for/],
      ['from=2026-02-30', /from must be a real day written YYYY-MM-DD/],
      ['to=yesterday', /to must be a real day written YYYY-MM-DD/],
      ['from=2026-03-05&to=2026-03-01', /from is after to/],
      ['status=bogus', /unknown status; use one of queued/],
      ['sender=' + 'a'.repeat(300), /sender must be at most 254 characters/],
      ['before=0', /before must be a task id/],
    ] as const) {
      const r = await api(app, `/api/tasks?${query}`);
      assert.equal(r.status, 400, query.slice(0, 40));
      assert.match(r.body.error, message);
      const p = await page(app, `/?${query}`);
      assert.equal(p.status, 400, `page ${query.slice(0, 40)}`);
      assert.match(p.html, /data-role="search-problems"/);
      assert.match(p.html, message);
      assert.match(p.html, /<form class="filters search"/, 'the form stays, to correct the search');
    }
    const both = await api(app, '/api/tasks?from=x&limit=0');
    assert.match(both.body.error, /from must be .*; limit must be/, 'every problem at once');
  });

  it('renders a search page that keeps every filter in the form and in the paging links, and is not live', async () => {
    const many: number[] = [];
    for (let i = 0; i < 51; i++) many.push(insertTask(db, { repoId: 'alpha', status: 'queued', sender: 'bulk@example.com', subject: `bulk item ${i}` }));
    const path = '/?q=bulk+item&sender=bulk%40&repo=alpha&status=queued&from=2020-01-01&to=2099-12-31';
    const p1 = await page(app, path);
    assert.equal(p1.status, 200);
    assert.deepEqual(cardIds(p1.html), many.slice(1).reverse());
    assert.match(p1.html, /name="q" value="bulk item"/);
    assert.match(p1.html, /name="sender" value="bulk@"/);
    assert.match(p1.html, /<option value="queued" selected>/);
    assert.match(p1.html, /name="from" value="2020-01-01"/);
    assert.match(p1.html, /data-role="search-note"/);
    assert.match(p1.html, /id="task-list" class="task-list" data-stream=""/, 'a search result page is not live');
    const next = /<a href="([^"]+)" rel="next">/.exec(p1.html);
    assert.ok(next, 'an older → link');
    const nextPath = next[1]!.replaceAll('&amp;', '&');
    assert.equal(nextPath, `/?q=bulk%20item&sender=bulk%40&repo=alpha&status=queued&from=2020-01-01&to=2099-12-31&before=${many[1]}`);
    const p2 = await page(app, nextPath);
    assert.deepEqual(cardIds(p2.html), [many[0]]);
    assert.doesNotMatch(p2.html, /rel="next"/);
    assert.match(p2.html, /href="\/\?q=bulk%20item&amp;sender=bulk%40&amp;repo=alpha&amp;status=queued&amp;from=2020-01-01&amp;to=2099-12-31">← newest/);
  });

  it('keeps the unfiltered and the repo/status lists live, and says when nothing matches', async () => {
    assert.match((await page(app, '/')).html, /data-stream="\/api\/stream\/tasks"/);
    assert.match((await page(app, '/?q=++&sender=')).html, /data-stream="\/api\/stream\/tasks"/, 'blank fields are no search');
    assert.match((await page(app, '/?repo=beta&status=completed')).html, /data-stream="\/api\/stream\/tasks\?repo=beta&amp;status=completed"/);
    const hostile = await page(app, '/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%22%3E&sender=%22%3E%3Cimg+src%3Dx%3E');
    assert.equal(hostile.status, 200);
    assert.doesNotMatch(hostile.html, /<script>alert|<img src=x>/, 'what was typed is shown as text');
    assert.match(hostile.html, /name="q" value="&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&gt;"/);
    const none = await page(app, '/?q=nothing+like+this');
    assert.equal(none.status, 200);
    assert.match(none.html, /No tasks match this search\./);
  });
});
