/**
 * The dashboard's layout in a real browser, at a desktop and a phone width, on demo-like data with
 * the awkward content real mail brings: every page is kept as a screenshot in
 * test-artifacts/screenshots/<page>-<width>.png, never scrolls sideways as a whole (a wide table
 * scrolls inside its .table-scroll wrapper), and at desktop width no table header breaks across lines.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { DASHBOARD_PAGES, SCREEN_WIDTHS, shootPages, type PageShot } from '../../scripts/dashboard-shots/pages.ts';
import { startDemoDashboard, type DemoDashboard } from '../../scripts/dashboard-shots/server.ts';
import { launchChromium } from './chromium.ts';

const SHOTS = new URL('../../test-artifacts/screenshots/', import.meta.url);

describe('dashboard layout at 1280 and 390 px', () => {
  let dash: DemoDashboard;
  let browser: Browser;
  let shots: PageShot[];

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dash = await startDemoDashboard();
    browser = await launchChromium();
    shots = await shootPages(browser, { baseUrl: dash.url, token: dash.token, seed: dash.seed, file: (p, w) => new URL(`${p}-${w}.png`, SHOTS).pathname });
  });

  after(async () => {
    await browser?.close();
    await dash?.close();
  });

  it('renders every page at every width and keeps a screenshot of each', () => {
    assert.deepEqual(
      shots.map((s) => `${s.page}-${s.width} ${s.status}`),
      DASHBOARD_PAGES.flatMap((p) => SCREEN_WIDTHS.map((w) => `${p.name}-${w} 200`)),
    );
    for (const s of shots) assert.ok(fs.statSync(new URL(`${s.page}-${s.width}.png`, SHOTS)).size > 0, `${s.page}-${s.width}.png`);
  });

  it('never makes the page body scroll sideways', () => {
    const overflowing = shots.filter((s) => s.scrollWidth > s.clientWidth).map((s) => `${s.page}-${s.width}: ${s.scrollWidth} > ${s.clientWidth}`);
    assert.deepEqual(overflowing, []);
  });

  it('keeps every table header on one line at desktop width', () => {
    const wrapped = shots.filter((s) => s.width === 1280 && s.wrappedHeaders.length).map((s) => `${s.page}: ${s.wrappedHeaders.join(', ')}`);
    assert.deepEqual(wrapped, []);
  });
});
