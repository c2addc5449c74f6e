/**
 * The dashboard's pages as a browser shows them at a desktop and a phone width: a full-page
 * screenshot of each, and what the layout test checks (the page never scrolls sideways as a whole;
 * no table header breaks across lines). Shared by scripts/dashboard-screenshots.ts (docs/images/)
 * and test/dashboard/responsive.test.ts (test-artifacts/screenshots/), so both see the same pages.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { DemoSeed } from './seed.ts';

export interface DashboardPage {
  /** In file names: `<name>-<width>.png`. */
  readonly name: string;
  readonly path: (seed: DemoSeed) => string;
  /** false: seen before logging in (the login form). */
  readonly signedIn: boolean;
}

/** Every page worth a picture; a new page is one more entry. */
export const DASHBOARD_PAGES: readonly DashboardPage[] = [
  { name: 'tasks', path: () => '/', signedIn: true },
  { name: 'task', path: (s) => `/tasks/${s.taskId}`, signedIn: true },
  { name: 'running-task', path: (s) => `/tasks/${s.runningId}`, signedIn: true },
  { name: 'conversation', path: (s) => `/conversations/${s.conversation.repoId}/${s.conversation.id}`, signedIn: true },
  { name: 'search', path: () => '/?q=failover', signedIn: true },
  { name: 'overview', path: () => '/overview', signedIn: true },
  { name: 'repos', path: () => '/repos', signedIn: true },
  { name: 'login', path: () => '/login', signedIn: false },
];

/** A desktop and a phone (an iPhone 12–15 is 390 CSS pixels wide). */
export const SCREEN_WIDTHS = [1280, 390] as const;
const VIEWPORT_HEIGHT = 900;

export interface PageShot {
  readonly page: string;
  readonly width: number;
  readonly status: number;
  /** document.documentElement's: wider than clientWidth means the whole page scrolls sideways. */
  readonly scrollWidth: number;
  readonly clientWidth: number;
  /** Table headers whose text takes more than one line, as `<th text> (<n> lines)`. */
  readonly wrappedHeaders: readonly string[];
}

export interface ShotTarget {
  readonly baseUrl: string;
  /** The dashboard's `auth_token`: the signed-in pages are seen after logging in with it. */
  readonly token: string;
  readonly seed: DemoSeed;
  /** Where the screenshot of a page at a width goes. */
  readonly file: (page: string, width: number) => string;
}

/** Logs in through the form, as a person would; the context keeps the session cookie. */
async function signIn(context: BrowserContext, t: ShotTarget): Promise<void> {
  const page = await context.newPage();
  try {
    await page.goto(`${t.baseUrl}/login`, { waitUntil: 'load' });
    await page.fill('input[name="token"]', t.token);
    await Promise.all([page.waitForURL(`${t.baseUrl}/`), page.click('button[type="submit"]')]);
  } finally {
    await page.close();
  }
}

/** Runs in the page: the numbers PageShot reports. */
function measure(): { scrollWidth: number; clientWidth: number; wrappedHeaders: string[] } {
  const doc = (globalThis as any).document;
  const wrapped: string[] = [];
  for (const th of doc.querySelectorAll('th')) {
    const range = doc.createRange();
    range.selectNodeContents(th);
    const tops = new Set<number>();
    for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
    if (tops.size > 1) wrapped.push(`${th.textContent} (${tops.size} lines)`);
  }
  const root = doc.documentElement;
  return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wrappedHeaders: wrapped };
}

async function shoot(page: Page, t: ShotTarget, p: DashboardPage, width: number): Promise<PageShot> {
  await page.setViewportSize({ width, height: VIEWPORT_HEIGHT });
  // `load` comes after the deferred script ran (it turns times into "5 min ago").
  const res = await page.goto(t.baseUrl + p.path(t.seed), { waitUntil: 'load' });
  await page.screenshot({ path: t.file(p.name, width), fullPage: true });
  return { page: p.name, width, status: res?.status() ?? 0, ...(await page.evaluate(measure)) };
}

/** Every page at every width, in DASHBOARD_PAGES order. */
export async function shootPages(browser: Browser, t: ShotTarget, pages: readonly DashboardPage[] = DASHBOARD_PAGES): Promise<PageShot[]> {
  const signedIn = await browser.newContext();
  const anonymous = await browser.newContext();
  try {
    await signIn(signedIn, t);
    const shots: PageShot[] = [];
    for (const p of pages) {
      const page = await (p.signedIn ? signedIn : anonymous).newPage();
      try {
        for (const width of SCREEN_WIDTHS) shots.push(await shoot(page, t, p, width));
      } finally {
        await page.close();
      }
    }
    return shots;
  } finally {
    await signedIn.close();
    await anonymous.close();
  }
}
