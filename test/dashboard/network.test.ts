import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { setTaskNetworkSandbox } from '../../src/store/network-log.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const BASE = 'http://localhost';
type App = ReturnType<typeof createDashboardApp>;

async function getJson(app: App, path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const r = await app.request(BASE + path, init);
  return { status: r.status, body: await r.json() };
}

async function page(app: App, path: string): Promise<string> {
  const r = await app.request(BASE + path, { headers: { accept: 'text/html' } });
  assert.equal(r.status, 200, path);
  return r.text();
}

/** The HTML of one task card on a page. */
function cardOf(html: string, taskId: number): string {
  const m = new RegExp(`<article class="card" data-task-id="${taskId}"[\\s\\S]*?</article>`).exec(html);
  assert.ok(m, `card of task ${taskId}`);
  return m[0];
}

describe('conversation network log: page and JSON API', () => {
  let db: Db;
  let cleanup: () => void;
  let app: App;
  before(() => {
    ({ db, cleanup } = tempDb());
    app = createDashboardApp(makeOptions(db, makeConfig(['alpha', 'beta'])).options);
  });
  after(() => cleanup());

  it('marks a task whose container had unrestricted network on its card, its page and its conversation', async () => {
    const sandboxed = insertTask(db, { repoId: 'alpha', status: 'completed', conversationId: 'cccc0001' });
    const open = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'cccc0001' });
    const notStarted = insertTask(db, { repoId: 'alpha', status: 'queued', conversationId: 'cccc0001' });
    setTaskNetworkSandbox(db, sandboxed, true);
    setTaskNetworkSandbox(db, open, false);
    const UNSANDBOXED = /<span class="net-badge unsandboxed" data-role="sandbox" title="this task&#39;s container had unrestricted network access">unsandboxed<\/span>/;
    const SANDBOXED = /class="net-badge sandboxed"[^>]*>sandboxed</;

    for (const path of ['/?repo=alpha', '/conversations/alpha/cccc0001']) {
      const html = await page(app, path);
      assert.match(cardOf(html, open), UNSANDBOXED, path);
      assert.doesNotMatch(cardOf(html, open), SANDBOXED, path);
      assert.match(cardOf(html, sandboxed), SANDBOXED, path);
      assert.doesNotMatch(cardOf(html, sandboxed), /unsandboxed/, path);
      assert.doesNotMatch(cardOf(html, notStarted), /net-badge/, `${path}: nothing before the container started`);
    }

    const openPage = await page(app, `/tasks/${open}`);
    assert.match(openPage, UNSANDBOXED);
    assert.match(openPage, /<dt>Network<\/dt><dd><strong class="error-text">unrestricted<\/strong>/);
    const sandboxedPage = await page(app, `/tasks/${sandboxed}`);
    assert.match(sandboxedPage, SANDBOXED);
    assert.match(sandboxedPage, /through the allowlist proxy · <a href="\/conversations\/alpha\/cccc0001#network" data-role="network-log">request log<\/a>/);
    assert.doesNotMatch(await page(app, `/tasks/${notStarted}`), /<dt>Network<\/dt>|net-badge/);

    const list = await getJson(app, '/api/tasks?repo=alpha&limit=200');
    const flag = (id: number) => list.body.tasks.find((x: any) => x.id === id).networkSandbox;
    assert.deepEqual([flag(sandboxed), flag(open), flag(notStarted)], [true, false, null], 'the list query reads the flag too');
  });
});
