/**
 * Every refusal and failure keeps its shape: a page for pages, JSON for the API (whatever the
 * client accepts), plain text for the Host check and the login form's refusals, and the security
 * headers on all of them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HTTPException } from 'hono/http-exception';
import { DashboardError } from '../../src/dashboard/http-error.ts';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const BASE = 'http://localhost';
const HTML = { accept: 'text/html' };

async function answer(r: Response): Promise<{ status: number; type: string; body: string }> {
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

describe('dashboard errors', () => {
  let db: Db;
  let cleanup: () => void;
  let taskId: number;

  before(() => {
    ({ db, cleanup } = tempDb());
    taskId = insertTask(db, { repoId: 'alpha', status: 'completed' });
  });
  after(() => cleanup());

  it('answers a missing task or conversation on a page with the page layout, even to a client that does not ask for HTML', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    for (const [path, message] of [
      ['/tasks/999999', 'There is no task with this number.'],
      ['/tasks/abc', 'There is no task with this number.'],
      ['/conversations/alpha/ffffffff', 'There is no conversation with this id in this repository.'],
    ] as const) {
      for (const headers of [HTML, {}]) {
        const r = await answer(await app.request(BASE + path, { headers }));
        assert.equal(r.status, 404, path);
        assert.match(r.type, /^text\/html/, path);
        assert.match(r.body, /<h1>Not found<\/h1>/, path);
        assert.ok(r.body.includes(`<p>${message}</p>`), `${path}: ${r.body.slice(0, 200)}`);
        assert.match(r.body, /data-csrf="[^"]+"/, `${path}: the layout of every page`);
      }
    }
  });

  it('answers API refusals with JSON { error }, even to a browser that asks for HTML', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    for (const [path, status, error] of [
      ['/api/tasks/999999', 404, 'no such task'],
      ['/api/conversations/alpha/ffffffff', 404, 'no such conversation'],
      ['/api/conversations/alpha/ffffffff/network', 404, 'no such conversation'],
      ['/api/conversations/alpha/ffffffff/network?after=x', 400, 'after must be a request id (a non-negative integer)'],
      ['/api/tasks?limit=0', 400, 'limit must be an integer from 1 to 200'],
      ['/api/tasks?before=x', 400, 'before must be a task id (a positive integer)'],
      ['/api/stream/tasks/999999', 404, 'no such task'],
      ['/api/stream/conversations/alpha/ffffffff', 404, 'no such conversation'],
    ] as const) {
      const r = await answer(await app.request(BASE + path, { headers: HTML }));
      assert.equal(r.status, status, path);
      assert.match(r.type, /^application\/json/, path);
      assert.deepEqual(JSON.parse(r.body), { error }, path);
    }
  });

  it('answers an unknown path by what the client accepts', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    const page = await answer(await app.request(BASE + '/no/such/page', { headers: HTML }));
    assert.equal(page.status, 404);
    assert.match(page.type, /^text\/html/);
    assert.ok(page.body.includes('<p>This page does not exist.</p>'));
    const script = await answer(await app.request(BASE + '/no/such/page'));
    assert.equal(script.status, 404);
    assert.deepEqual(JSON.parse(script.body), { error: 'not found' });
    const api = await answer(await app.request(BASE + '/api/nothing', { headers: HTML }));
    assert.deepEqual([api.status, JSON.parse(api.body)], [404, { error: 'not found' }]);
  });

  it('answers the stop action with { ok: false, … } when it refuses or fails', async () => {
    const failing = makeOptions(db, makeConfig(['alpha']), {
      actions: {
        async stopTask() {
          throw new Error('runtime unreachable');
        },
        submitTask: async () => Promise.reject(new Error('this test submits no tasks')),
      },
    });
    const app = createDashboardApp(failing.options);
    const stop = async (id: number | string, headers: Record<string, string> = {}) =>
      answer(await app.request(`${BASE}/api/tasks/${id}/stop`, { method: 'POST', headers }));
    const crossSite = await stop(taskId, { origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    assert.deepEqual(JSON.parse(crossSite.body), { ok: false, message: 'cross-site request refused: reload the dashboard page and try again' });

    const html = await (await app.request(BASE + '/', { headers: HTML })).text();
    const csrf = /data-csrf="([^"]+)"/.exec(html)![1]!;
    const same = { origin: BASE, 'x-csrf-token': csrf };
    assert.deepEqual(JSON.parse((await stop(999999, same)).body), { ok: false, message: 'no such task' });
    const finished = await stop(taskId, same);
    assert.equal(finished.status, 409);
    assert.deepEqual(JSON.parse(finished.body), { ok: false, status: 'completed', message: 'the task is completed; only queued or running tasks can be stopped' });

    const running = insertTask(db, { repoId: 'alpha', status: 'running' });
    const failed = await stop(running, same);
    assert.equal(failed.status, 500);
    assert.deepEqual(JSON.parse(failed.body), { ok: false, status: 'running', message: 'stopping the task failed; see the daemon log' });
  });

  it('answers the Host check and a cross-site login in plain text, with the security headers', async () => {
    const open = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    const foreign = await open.request(BASE + '/api/tasks', { headers: { host: 'evil.example', ...HTML } });
    assert.equal(foreign.status, 421);
    assert.match(foreign.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await foreign.text(), /^This dashboard answers only to its own host names\./);
    assert.equal(foreign.headers.get('x-frame-options'), 'DENY');

    const guarded = createDashboardApp(makeOptions(db, makeConfig(['alpha'], { authToken: 'a-token-of-32-characters-or-more!' })).options);
    const r = await guarded.request(BASE + '/login', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded', ...HTML },
      body: 'token=x',
    });
    assert.equal(r.status, 403);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await r.text(), 'cross-site request refused');
    assert.ok(r.headers.get('content-security-policy'));
  });

  it('answers a fault with a message that points at the log: a page for a browser, JSON for a script', async () => {
    const { db: broken, cleanup: drop } = tempDb();
    const app = createDashboardApp(makeOptions(broken, makeConfig(['alpha'])).options);
    broken.close();
    try {
      const page = await answer(await app.request(BASE + '/tasks/1', { headers: HTML }));
      assert.equal(page.status, 500);
      assert.match(page.body, /Something went wrong; the daemon log has the details\./);
      const api = await answer(await app.request(BASE + '/api/tasks/1', { headers: HTML }));
      assert.deepEqual([api.status, JSON.parse(api.body)], [500, { error: 'internal error; see the daemon log' }]);
    } finally {
      try {
        drop();
      } catch {
        // already closed
      }
    }
  });
});

describe('DashboardError', () => {
  it("is Hono's HTTPException, so Hono treats it as an answer and not a crash", () => {
    const e = new DashboardError(409, 'busy', { json: { ok: false } });
    assert.ok(e instanceof HTTPException);
    assert.equal(e.status, 409);
    assert.equal(e.message, 'busy');
    assert.deepEqual(e.json, { ok: false });
    assert.equal(e.plain, false);
  });
});
