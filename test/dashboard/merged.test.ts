/** Merged mails on the dashboard: the row names its handler; the handler lists the mails it handled. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import { transitionTask } from '../../src/store/task-transitions.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const BASE = 'http://localhost';

test('a coalesced row shows "coalesced into #N" linking to its handler, which lists the mails it handled', async () => {
  const { db, cleanup } = tempDb();
  try {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    const handler = insertTask(db, { status: 'running', conversationId: 'c0ffee00', startedAt: 1000, sender: 'alice@example.com' });
    const follow = insertTask(db, { conversationId: 'c0ffee00', sender: 'bob@example.com' });
    const change = { to: 'merged', mergedInto: handler, mergeKind: 'coalesced', conversationId: 'c0ffee00' } as const;
    assert.equal(transitionTask(db, follow, { status: 'queued', attempt: 0 }, change, 2000).applied, true);

    const list = await (await app.request(BASE + '/', { headers: { accept: 'text/html' } })).text();
    assert.match(list, new RegExp(`coalesced into <a href="/tasks/${handler}" data-role="merged-into">#${handler}</a>`));

    const page = await (await app.request(BASE + `/tasks/${follow}`, { headers: { accept: 'text/html' } })).text();
    assert.match(page, /<dt>Handled by<\/dt><dd>coalesced into <a href="\/tasks\/\d+"/);

    const handlerPage = await (await app.request(BASE + `/tasks/${handler}`, { headers: { accept: 'text/html' } })).text();
    assert.match(handlerPage, /<h2>Mails handled<\/h2>/);
    assert.match(handlerPage, new RegExp(`<li data-task-id="${follow}"><a href="/tasks/${follow}">#${follow}</a> coalesced · <span class="sender">bob@example.com</span>`));

    const api = (await (await app.request(BASE + `/api/tasks/${follow}`)).json()) as { task: Record<string, unknown> };
    assert.equal(api.task.status, 'merged');
    assert.equal(api.task.mergedInto, handler);
    assert.equal(api.task.mergeKind, 'coalesced');
  } finally {
    cleanup();
  }
});
