/**
 * `npm run screenshots` — the pictures in docs/dashboard.md: the real dashboard on demo-like data
 * (scripts/dashboard-shots/seed.ts), every page at 1280 and 390 px wide, full page, written as
 * docs/images/dashboard-<page>-<width>.png. Needs Chromium (CHROMIUM_PATH, default /usr/bin/chromium);
 * no network. Run it again after a change to the pages and commit the images.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../test/dashboard/chromium.ts';
import { parseShotArgs, SCREENSHOTS_USAGE, ShotArgsError } from './dashboard-shots/args.ts';
import { shootPages } from './dashboard-shots/pages.ts';
import { startDemoDashboard } from './dashboard-shots/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  const args = parseShotArgs(process.argv.slice(2), ROOT);
  if (!args) return void process.stdout.write(SCREENSHOTS_USAGE);
  fs.mkdirSync(args.outDir, { recursive: true });
  const dash = await startDemoDashboard();
  const browser = await launchChromium();
  try {
    const file = (page: string, width: number): string => path.join(args.outDir, `dashboard-${page}-${width}.png`);
    const shots = await shootPages(browser, { baseUrl: dash.url, token: dash.token, seed: dash.seed, file }, args.pages);
    for (const s of shots) {
      const wide = s.scrollWidth > s.clientWidth ? `  (the page is ${s.scrollWidth} px wide: it overflows)` : '';
      process.stdout.write(`${path.relative(ROOT, file(s.page, s.width))}  HTTP ${s.status}${wide}\n`);
    }
  } finally {
    await browser.close();
    await dash.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ShotArgsError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = err instanceof ShotArgsError ? 2 : 1;
});
