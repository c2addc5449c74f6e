import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDashboard, type DashboardActions, type RunningDashboard } from '../../src/dashboard/server.ts';
import { appendTaskEvent } from '../../src/store/task-events.ts';
import type { Db } from '../../src/store/database.ts';
import { launchChromium } from './chromium.ts';
import { insertTask, makeConfig, makeOptions, tempDb, type Harness } from './helpers.ts';

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

  it('shows a running task live, and the stop button stops it', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      await page.goto(`${dash.url}/tasks/${running}`, { waitUntil: 'load' });
      assert.equal(await page.locator('#task-summary .status').first().textContent(), 'running');
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

      const stop = page.locator('[data-role="stop"]');
      await stop.click();
      assert.equal(await stop.textContent(), 'Click again to confirm');
      assert.deepEqual(stopped, [], 'one click alone stops nothing');
      await stop.click();
      await page.waitForFunction(() => (globalThis as any).document.querySelector('#task-summary .status')?.textContent === 'cancelled', undefined, { timeout: 5000 });
      assert.deepEqual(stopped, [running]);
      assert.equal(await page.locator('[data-role="stop"]').count(), 0, 'no stop button on a finished task');
      assert.match((await page.locator('#task-summary .error-box').textContent()) ?? '', /stopped by an operator/);
      await page.screenshot({ path: new URL('dashboard-task.png', ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  });
});
