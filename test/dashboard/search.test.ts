/** Searching the task list in headless Chromium: the search box, the URL that holds the search, the next page. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { saveTaskRequest } from '../../src/store/task-content.ts';
import { launchChromium } from './chromium.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

/** The task numbers on the list, top to bottom. */
function listedIds(page: Page): Promise<number[]> {
  return page.locator('#task-list [data-task-id]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-task-id'))));
}

describe('task search in a real browser', () => {
  let db: Db;
  let cleanup: () => void;
  let dash: RunningDashboard;
  let browser: Browser;
  let marmalade: number;
  const quokkas: number[] = [];

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    ({ db, cleanup } = tempDb());
    for (let i = 0; i < 53; i++) {
      const id = insertTask(db, { repoId: i % 3 ? 'web-app' : 'api-server', status: 'completed', subject: `Routine job ${i}` });
      saveTaskRequest(db, id, { text: `count the quokkas in pen ${i}`, original: '' });
      if (i % 3) quokkas.push(id);
    }
    marmalade = insertTask(db, { repoId: 'api-server', status: 'failed', sender: 'carol@example.com', subject: 'Breakfast menu' });
    // The word is only in the request text, not in the subject.
    saveTaskRequest(db, marmalade, { text: 'Add Séville marmalade to the list', original: 'Add Séville marmalade to the list\n> earlier mail' });
    dash = await startDashboard(makeOptions(db, makeConfig(['web-app', 'api-server'])).options);
    browser = await launchChromium();
  });

  /** A fresh page for one test, closed whatever happens. */
  async function withPage(fn: (page: Page) => Promise<void>): Promise<void> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    try {
      await fn(page);
    } finally {
      await page.close();
    }
  }

  after(async () => {
    await browser?.close();
    await dash?.close();
    cleanup();
  });

  it('finds a task by a word from its request text typed in the search box; the URL holds the search', () =>
    withPage(async (page) => {
      await page.goto(dash.url + '/', { waitUntil: 'load' });
      await page.locator('input[name="q"]').fill('seville marm');
      await Promise.all([page.waitForURL(/[?&]q=/, { timeout: 15_000 }), page.locator('input[name="q"]').press('Enter')]);
      const url = new URL(page.url());
      assert.equal(url.searchParams.get('q'), 'seville marm');
      const ids = await listedIds(page);
      assert.deepEqual(ids, [marmalade]);
      assert.equal(await page.locator('input[name="q"]').inputValue(), 'seville marm', 'the box keeps the words');
      assert.ok(await page.locator('[data-role="search-note"]').isVisible(), 'the page says it is not live');
      await page.screenshot({ path: new URL('dashboard-search.png', ARTIFACTS).pathname, fullPage: true });

      // The same URL opened afresh (a shared link) shows the same result.
      const shared = await browser.newPage();
      await shared.goto(page.url(), { waitUntil: 'load' });
      assert.deepEqual(await listedIds(shared), [marmalade]);
      await shared.close();
    }));

  it('keeps the words and the filters when a search is refined in the form', () =>
    withPage(async (page) => {
      await page.goto(dash.url + '/', { waitUntil: 'load' });
      await page.locator('input[name="q"]').fill('quokkas');
      await page.locator('select[name="repo"]').selectOption('web-app');
      await Promise.all([page.waitForURL(/[?&]q=quokkas/, { timeout: 15_000 }), page.locator('form.search button[type="submit"]').click()]);
      const first = await listedIds(page);
      assert.equal(first.length, Math.min(50, quokkas.length));
      assert.deepEqual(first, [...quokkas].reverse().slice(0, first.length));
      // A date added to the same form keeps the words and the repository.
      await page.locator('input[name="from"]').fill('2000-01-01');
      await Promise.all([page.waitForURL(/from=2000-01-01/, { timeout: 15_000 }), page.locator('form.search button[type="submit"]').click()]);
      const url = new URL(page.url());
      assert.equal(url.searchParams.get('q'), 'quokkas');
      assert.equal(url.searchParams.get('repo'), 'web-app');
      assert.equal(await page.locator('select[name="repo"]').inputValue(), 'web-app');
    }));

  it('follows "older →" with every filter kept', () =>
    withPage(async (page) => {
      await page.goto(dash.url + '/?q=quokkas&status=completed', { waitUntil: 'load' });
      const first = await listedIds(page);
      assert.equal(first.length, 50);
      await Promise.all([page.waitForURL(/before=/, { timeout: 15_000 }), page.locator('a[rel="next"]').click()]);
      const url = new URL(page.url());
      assert.equal(url.searchParams.get('q'), 'quokkas');
      assert.equal(url.searchParams.get('status'), 'completed');
      const second = await listedIds(page);
      assert.equal(second.length, 3);
      assert.ok(Math.max(...second) < Math.min(...first), 'older tasks, none repeated');
      assert.equal(await page.locator('input[name="q"]').inputValue(), 'quokkas');
    }));
});
