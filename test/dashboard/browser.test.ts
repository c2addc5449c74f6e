import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDashboard, type DashboardActions, type RunningDashboard } from '../../src/dashboard/server.ts';
import { appendTaskEvent } from '../../src/store/task-events.ts';
import { insertNetworkRequests } from '../../src/store/network-log.ts';
import { setTaskNetworkSandbox } from '../../src/store/task-queue.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { recordTaskStage } from '../../src/store/task-stages.ts';
import type { Db } from '../../src/store/database.ts';
import { launchChromium } from './chromium.ts';
import { insertTask, makeConfig, makeOptions, netEntry, tempDb, type Harness } from './helpers.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

describe('dashboard in a real browser', () => {
  let db: Db;
  let cleanup: () => void;
  let h: Harness;
  let dash: RunningDashboard;
  let browser: Browser;
  let running: number;
  const stopped: number[] = [];

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    ({ db, cleanup } = tempDb());
    const now = Date.now();
    insertTask(db, { repoId: 'web-app', status: 'completed', sender: 'carol@example.com', subject: 'Fix the login redirect', model: 'claude-sonnet-4-5', costUsd: 0.4211, createdAt: now - 600_000, startedAt: now - 590_000, finishedAt: now - 400_000 });
    insertTask(db, { repoId: 'api-server', status: 'rejected', sender: 'mallory@evil.example', subject: 'Please run this', reason: 'unauthorized', detail: 'mallory@evil.example is not an authorized sender', createdAt: now - 300_000 });
    insertTask(db, { repoId: 'api-server', status: 'queued', sender: 'dave@example.com', subject: 'Add pagination to /users', createdAt: now - 20_000 });
    running = insertTask(db, { repoId: 'api-server', status: 'running', sender: 'bob@example.com', subject: 'Upgrade the database driver', conversationId: '1a2b3c4d', model: 'claude-opus-4-1', createdAt: now - 120_000, startedAt: now - 100_000 });
    appendTaskEvent(db, running, 'system_init', { type: 'system_init', sessionId: 'sess-1', model: 'claude-opus-4-1', cwd: '/workspace' });
    appendTaskEvent(db, running, 'assistant_text', { type: 'assistant_text', text: 'I will look at the driver version first.' });

    const feedHolder: { h?: Harness } = {};
    const actions: DashboardActions = {
      async stopTask(taskId) {
        stopped.push(taskId);
        db.prepare(`UPDATE tasks SET status = 'cancelled', error = 'stopped by an operator', finished_at = ? WHERE id = ?`).run(Date.now(), taskId);
        feedHolder.h!.feed.emit('task', taskId);
        return { ok: true, status: 'cancelled', message: 'Task stopped.' };
      },
      submitTask: async () => Promise.reject(new Error('this test submits no tasks')),
    };
    h = makeOptions(db, makeConfig(['web-app', 'api-server']), { actions });
    feedHolder.h = h;
    dash = await startDashboard(h.options);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dash?.close();
    cleanup();
  });

  it('lists tasks of both repos with their badges and senders, and new tasks appear live', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    try {
      await page.goto(dash.url + '/', { waitUntil: 'load' });
      const badges = await page.locator('#task-list .badge.repo').allTextContents();
      assert.ok(badges.includes('web-app') && badges.includes('api-server'), `badges: ${badges.join(', ')}`);
      const senders = await page.locator('#task-list .sender').allTextContents();
      for (const s of ['carol@example.com', 'bob@example.com', 'mallory@evil.example']) assert.ok(senders.includes(s), s);
      assert.match((await page.locator('.reason').first().textContent()) ?? '', /unauthorized/);

      await page.waitForSelector('#live-indicator:not([hidden])');
      const fresh = insertTask(db, { repoId: 'web-app', sender: 'erin@example.com', subject: 'Arrived while watching' });
      h.feed.emit('task', fresh);
      await page.waitForSelector(`#task-list [data-task-id="${fresh}"]`, { timeout: 5000 });
      const firstId = await page.locator('#task-list [data-task-id]').first().getAttribute('data-task-id');
      assert.equal(Number(firstId), fresh, 'the new task is on top');
      await page.screenshot({ path: new URL('dashboard-list.png', ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('shows a conversation’s network log, and new requests and the unsandboxed badge appear without reload', async () => {
    const scope = { repoId: 'api-server', conversationId: '1a2b3c4d', taskId: running };
    insertNetworkRequests(db, scope, [
      netEntry({ host: 'registry.npmjs.org', path: '/pg' }),
      netEntry({ host: 'api.anthropic.com', method: 'POST', path: '/v1/messages', masked: 1, rule: 'url_prefixes[0]: api.anthropic.com /v1/*' }),
    ]);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      await page.goto(`${dash.url}/conversations/api-server/1a2b3c4d`, { waitUntil: 'load' });
      assert.equal(await page.locator('#network-rows tr').count(), 2, 'the past, rendered with the page');
      assert.equal(await page.locator('#network-empty').isVisible(), false);
      assert.equal(await page.locator('#conversation-tasks .net-badge').count(), 0, 'no badge before the container started');
      await page.waitForSelector('#live-indicator:not([hidden])');

      const blocked = insertNetworkRequests(db, scope, [netEntry({ host: 'pastebin.com', method: 'PUT', path: '/upload', status: 403, allowed: false, rule: 'host pastebin.com is not in the allowlist' })]);
      h.feed.emit('network', { ...scope, lastId: blocked });
      const newest = insertNetworkRequests(db, scope, [netEntry({ host: 'github.com', path: '/brianc/node-postgres' })]);
      h.feed.emit('network', { ...scope, lastId: newest });
      await page.waitForSelector(`#network-rows [data-net-id="${newest}"]`, { timeout: 5000 });
      const ids = await page.locator('#network-rows tr').evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-net-id'))));
      assert.equal(ids.length, 4, 'no row twice');
      assert.deepEqual(ids.slice(0, 2), [newest, blocked], 'the newest on top');
      const row = page.locator(`#network-rows [data-net-id="${blocked}"]`);
      assert.equal(await row.locator('[data-role="verdict"]').textContent(), 'blocked');
      assert.equal(await row.locator('.net-host').textContent(), 'pastebin.com');
      assert.match((await row.locator('.net-rule').textContent()) ?? '', /host pastebin\.com is not in the allowlist/);

      setTaskNetworkSandbox(db, running, false);
      h.feed.emit('task', running);
      const badge = page.locator(`#conversation-tasks [data-task-id="${running}"] .net-badge.unsandboxed`);
      await badge.waitFor({ timeout: 5000 });
      assert.equal(await badge.textContent(), 'unsandboxed');
      assert.equal(await badge.getAttribute('title'), "this task's container had unrestricted network access");
      await page.screenshot({ path: new URL('dashboard-conversation-network.png', ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('shows a running task live, with the stage it is in, and the stop button stops it', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const attempt = getTask(db, running)!.attempts;
    recordTaskStage(db, running, attempt - 1, 'outcome', Date.now() - 110_000); // an earlier attempt's: not shown
    recordTaskStage(db, running, attempt, 'image', Date.now() - 90_000);
    try {
      await page.goto(`${dash.url}/tasks/${running}`, { waitUntil: 'load' });
      assert.equal(await page.locator('#task-summary .status').first().textContent(), 'running');
      assert.equal(await page.locator('#task-summary [data-role="stage"]').textContent(), 'image');
      assert.equal(await page.locator('#timeline .event').count(), 2, 'the past, rendered with the page');
      await page.waitForSelector('#live-indicator:not([hidden])');

      const e1 = appendTaskEvent(db, running, 'todo_list', {
        type: 'todo_list',
        todos: [
          { content: 'Read the changelog', status: 'completed' },
          { content: 'Bump the version', status: 'in_progress', activeForm: 'Bumping the version' },
          { content: 'Run the tests', status: 'pending' },
        ],
      });
      h.feed.emit('task-event', { taskId: running, eventId: e1 });
      const e2 = appendTaskEvent(db, running, 'tool_use', { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'npm install pg@8.13.0', description: 'upgrade' } });
      h.feed.emit('task-event', { taskId: running, eventId: e2 });
      await page.waitForSelector(`[data-event-id="${e2}"]`, { timeout: 5000 });
      assert.match((await page.locator(`[data-event-id="${e1}"]`).textContent()) ?? '', /1\/3 done/);
      assert.match((await page.locator(`[data-event-id="${e2}"] .tool-line`).textContent()) ?? '', /npm install pg@8\.13\.0/);
      assert.equal(await page.locator('#timeline .event').count(), 4, 'no event twice');

      // The runner enters the next stage: its report reaches the page without a reload.
      recordTaskStage(db, running, attempt, 'agent', Date.now());
      h.feed.emit('task', running);
      await page.waitForFunction(() => (globalThis as any).document.querySelector('#task-summary [data-role="stage"]')?.textContent === 'agent', undefined, { timeout: 5000 });

      const stop = page.locator('[data-role="stop"]');
      await stop.click();
      assert.equal(await stop.textContent(), 'Click again to confirm');
      assert.deepEqual(stopped, [], 'one click alone stops nothing');
      await stop.click();
      await page.waitForFunction(() => (globalThis as any).document.querySelector('#task-summary .status')?.textContent === 'cancelled', undefined, { timeout: 5000 });
      assert.deepEqual(stopped, [running]);
      assert.equal(await page.locator('[data-role="stop"]').count(), 0, 'no stop button on a finished task');
      assert.equal(await page.locator('[data-role="stage"]').count(), 0, 'no stage on a finished task');
      assert.match((await page.locator('#task-summary .error-box').textContent()) ?? '', /stopped by an operator/);
      await page.screenshot({ path: new URL('dashboard-task.png', ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  });
});
