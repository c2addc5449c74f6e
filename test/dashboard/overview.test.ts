/**
 * The Overview page in headless Chromium: the charts draw from seeded data (one bar segment per
 * day and series with a value, one dot per day and percentile), the range selector works, an empty
 * range says so, and nothing breaks the CSP or logs an error.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { launchChromium } from './chromium.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 20, 15);
const TODAY = Date.UTC(2026, 10, 20);

function seed(db: Db): void {
  // Five of the last seven days, two repositories, several outcomes, waits and costs.
  for (const back of [0, 1, 2, 4, 6]) {
    const d = TODAY - back * DAY + 3_600_000;
    for (let i = 0; i <= back; i++) {
      insertTask(db, { repoId: 'web-app', status: 'completed', costUsd: 0.25 * (i + 1), createdAt: d + i, startedAt: d + i + 2000 * (i + 1), finishedAt: d + i + 60_000 * (i + 1) });
    }
    insertTask(db, { repoId: 'api-server', status: back % 2 ? 'failed' : 'timeout', costUsd: 1.5, createdAt: d + 50, startedAt: d + 5000, finishedAt: d + 900_000 });
    if (back % 2 === 0) insertTask(db, { repoId: 'api-server', status: 'rejected', reason: back === 0 ? 'unauthorized' : 'auth_failed', createdAt: d + 60 });
  }
  insertTask(db, { repoId: 'web-app', status: 'queued', createdAt: NOW - 1000 });
}

/** The one DOM call these tests make in the page (the tests compile without the DOM library). */
interface ComputedStyleWindow {
  getComputedStyle(e: unknown): { fill: string };
}

interface ScrollWindow {
  document: { documentElement: { scrollWidth: number } };
}

/** Console errors, page errors and CSP violations, as they happen. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

describe('the Overview page in a real browser', () => {
  let db: Db;
  let cleanup: () => void;
  let dash: RunningDashboard;
  let browser: Browser;

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    ({ db, cleanup } = tempDb());
    seed(db);
    dash = await startDashboard({ ...makeOptions(db, makeConfig(['web-app', 'api-server'])).options, now: () => NOW });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dash?.close();
    cleanup();
  });

  it('draws the charts from the data the API returns, without an error or a CSP violation', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watch(page);
    try {
      await page.goto(dash.url + '/', { waitUntil: 'load' });
      await page.click('header nav a[href="/overview"]');
      await page.waitForSelector('figure.chart');
      const api = (await (await fetch(`${dash.url}/api/overview`)).json()) as any;
      const withData = (series: { values: number[] }[]): number => series.reduce((n, s) => n + s.values.filter((v) => v > 0).length, 0);
      assert.deepEqual(await page.locator('figure.chart').evaluateAll((fs) => fs.map((f) => f.getAttribute('data-chart'))), [
        'tasks-by-outcome',
        'cost-by-repo',
        'queue-wait',
        'run-time',
        'rejected-by-reason',
      ]);
      assert.equal(await page.locator('figure.chart svg.chart-svg').count(), 5);
      assert.equal(await page.locator('#chart-tasks-by-outcome rect.bar').count(), withData(api.tasksByOutcome));
      assert.equal(withData(api.tasksByOutcome), 5 + 5 + 4 + 1, 'completed and failed/timeout on five days, rejected on four, queued today');
      assert.equal(await page.locator('#chart-cost-by-repo rect.bar').count(), withData(api.costByRepo));
      assert.equal(withData(api.costByRepo), 10);
      assert.equal(await page.locator('#chart-rejected-by-reason rect.bar').count(), api.rejectedByReason.length);
      const points = (p: any): number => ['p50', 'p90', 'p99'].reduce((n, k) => n + p[k].filter((v: number | null) => v !== null).length, 0);
      assert.equal(await page.locator('#chart-queue-wait circle.dot').count(), points(api.queueWaitMs));
      assert.equal(await page.locator('#chart-run-time circle.dot').count(), points(api.runTimeMs));
      assert.equal(await page.locator('#chart-tasks-by-outcome svg title').first().textContent(), 'Tasks per day by outcome');
      assert.match((await page.locator('#chart-cost-by-repo .legend').textContent()) ?? '', /api-server.*web-app/s);
      // The numbers are in the table too.
      await page.click('#chart-rejected-by-reason details summary');
      assert.match((await page.locator('#chart-rejected-by-reason table').textContent()) ?? '', /auth_failed\s*3/);
      // Bars take their colour from the stylesheet (no inline style): a completed bar is not black.
      const fill = await page.locator('#chart-tasks-by-outcome rect.bar.k-completed').first().evaluate((r) => (globalThis as unknown as ComputedStyleWindow).getComputedStyle(r).fill);
      assert.equal(fill, 'rgb(29, 122, 70)');
      await page.screenshot({ path: new URL('overview.png', ARTIFACTS).pathname, fullPage: true });
      // At phone width a chart scrolls inside its figure; the page itself does not scroll sideways.
      await page.setViewportSize({ width: 390, height: 844 });
      assert.ok(await page.evaluate(() => (globalThis as unknown as ScrollWindow).document.documentElement.scrollWidth <= 390), 'no horizontal overflow at 390 px');
      await page.screenshot({ path: new URL('overview-390.png', ARTIFACTS).pathname, fullPage: true });
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });

  it('switches the range and the repository through the URL, and says when a range has no data', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watch(page);
    try {
      await page.goto(dash.url + '/overview', { waitUntil: 'load' });
      await page.click('.range-links a:text("7 days")');
      await page.waitForURL(/days=7/);
      assert.equal(await page.locator('#chart-tasks-by-outcome details tbody tr').count(), 7);
      await page.selectOption('select[name="repo"]', 'api-server');
      await page.click('form[data-role="overview-range"] button');
      await page.waitForURL(/repo=api-server/);
      assert.match(page.url(), /days=7/);
      assert.equal(await page.locator('#chart-cost-by-repo rect.bar').count(), 5, 'only api-server’s cost');
      await page.goto(dash.url + '/overview?repo=nothing-here', { waitUntil: 'load' });
      assert.equal(await page.locator('figure.chart [data-role="chart-empty"]').count(), 5);
      assert.equal(await page.locator('figure.chart svg.chart-svg').count(), 0);
      assert.match((await page.locator('#chart-run-time').textContent()) ?? '', /No data in this range\./);
      assert.deepEqual(problems, []);
    } finally {
      await page.close();
    }
  });
});
