/**
 * The redirect after login, in a real browser: whatever `next` says, Chromium follows the redirect,
 * ends on the dashboard's own origin and never asks another host for anything. `evil.example` resolves (inside
 * this Chromium only) to a local server that counts its visitors, so an open redirect would show
 * as a visit there, not as a DNS error.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import { safeNextPath } from '../../src/dashboard/next-path.ts';
import { launchChromium } from './chromium.ts';
import { makeConfig, makeOptions, rawRequest, tempDb } from './helpers.ts';

const TOKEN = 'redirect-test-token-0123456789abcdef0123456789';

interface Visit {
  readonly finalUrl: string;
  readonly requested: readonly string[];
  readonly loginAnswers: readonly number[];
  readonly loggedIn: boolean;
  readonly evilVisits: number;
}

/** Targets that lead off-site in a browser if they reach `Location` as they are. */
const HOSTILE = [
  '/\t/evil.example/',
  '/\n/evil.example/',
  '/\t\t/evil.example/',
  '//evil.example/',
  '/\\evil.example/',
  '/\t\\evil.example/',
  '\\\\evil.example/',
  '\\/evil.example/',
  ' //evil.example/',
  '\t//evil.example/',
  'http://evil.example/',
  'http:evil.example/',
  'HTTP://evil.example/',
  '//evil.example@127.0.0.1/',
  '/\u3000/evil.example/',
  '/\uff0f/evil.example/',
  '/\u2215evil.example/',
  '/\u00a0/evil.example/',
  'javascript:location="http://evil.example/"',
  '/ /evil.example/',
];
/** Odd but same-origin: kept as they are, and the browser still stays home. */
const KEPT = ['/%09/evil.example/', '/%2F/evil.example/', '/%5C/evil.example/', '/%2f%2fevil.example/', '/.//evil.example/', '/repos?x=//evil.example'];

describe('safeNextPath', () => {
  it('turns every hostile target into / and keeps same-origin paths', () => {
    for (const v of HOSTILE) assert.equal(safeNextPath(v), '/', JSON.stringify(v));
    for (const v of KEPT) assert.equal(safeNextPath(v), v, JSON.stringify(v));
    for (const v of ['/repos', '/tasks/12', '/?repo=web-app&status=failed', '/conversations/a-b/0a1b2c3d']) assert.equal(safeNextPath(v), v);
    for (const v of [undefined, '', 'repos', '/%zz', '/a#b', '/a"b', `/${'a'.repeat(2048)}`]) assert.equal(safeNextPath(v), '/', String(v).slice(0, 20));
  });
});

describe('login redirect in Chromium', () => {
  let dash: RunningDashboard;
  let browser: Browser;
  let evil: http.Server;
  const evilVisits: string[] = [];
  let cleanup: () => void;

  before(async () => {
    const t = tempDb();
    cleanup = t.cleanup;
    dash = await startDashboard(makeOptions(t.db, makeConfig(['alpha'], { authToken: TOKEN })).options);
    evil = http.createServer((req, res) => {
      evilVisits.push(`${req.headers.host}${req.url}`);
      res.end('<title>evil</title>you left the dashboard');
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    const evilPort = (evil.address() as AddressInfo).port;
    browser = await launchChromium([`--host-resolver-rules=MAP evil.example 127.0.0.1:${evilPort}, MAP *.evil.example 127.0.0.1:${evilPort}`]);
  });

  after(async () => {
    await browser?.close();
    await dash?.close();
    await new Promise((r) => evil?.close(r));
    cleanup?.();
  });

  /** Logs in through the form (after `prepare`); where the browser ended, what it asked for, how /login answered. */
  async function loginFrom(start: string, prepare: (page: Page) => Promise<void>): Promise<Visit> {
    const context = await browser.newContext();
    const page = await context.newPage();
    // On the context, not the page: a cross-site navigation moves the page to another renderer.
    const requested: string[] = [];
    const loginAnswers: number[] = [];
    context.on('request', (r) => requested.push(r.url()));
    context.on('response', (r) => {
      if (r.request().method() === 'POST' && new URL(r.url()).pathname === '/login') loginAnswers.push(r.status());
    });
    try {
      await page.goto(dash.url + start, { waitUntil: 'load' });
      await prepare(page);
      await page.fill('input[name="token"]', TOKEN);
      const visitsBefore = evilVisits.length;
      await page.click('button[type="submit"]', { noWaitAfter: true });
      const deadline = Date.now() + 10_000;
      while (loginAnswers.length === 0 && evilVisits.length === visitsBefore && Date.now() < deadline) await page.waitForTimeout(25);
      // Wherever the redirect leads (home, or the counting server), let it load. A navigation the
      // browser refuses (a javascript: URL) leaves the page where it was.
      await page.waitForLoadState('load').catch(() => undefined);
      await page.waitForTimeout(200);
      const loggedIn = (await context.cookies()).some((c) => c.name === 'airut_session');
      return { finalUrl: page.url(), requested, loginAnswers, loggedIn, evilVisits: evilVisits.length - visitsBefore };
    } finally {
      await context.close();
    }
  }

  function assertStayedHome(what: string, r: Visit): void {
    const home = new URL(dash.url).origin;
    assert.equal(r.evilVisits, 0, `${what}: the browser went to evil.example`);
    assert.equal(new URL(r.finalUrl).origin, home, `${what}: ended on ${r.finalUrl}`);
    assert.deepEqual(r.requested.filter((u) => !u.startsWith(home + '/')), [], `${what}: asked another origin`);
    // The login itself worked: otherwise staying home would prove nothing.
    assert.deepEqual(r.loginAnswers, [303], `${what}: POST /login answered with a redirect the browser followed`);
    assert.ok(r.loggedIn, `${what}: the session cookie is set`);
  }

  it('stays on the dashboard for each hostile next, given in the login URL', async () => {
    for (const v of [...HOSTILE, ...KEPT]) {
      const r = await loginFrom(`/login?next=${encodeURIComponent(v)}`, async () => undefined);
      assertStayedHome(`?next=${JSON.stringify(v)}`, r);
    }
    assert.deepEqual(evilVisits, []);
  });

  it('stays on the dashboard for each hostile next, posted in the form as it is', async () => {
    for (const v of [...HOSTILE, ...KEPT]) {
      const r = await loginFrom('/login', async (page) => {
        await page.locator('input[name="next"]').evaluate((el, value) => ((el as unknown as { value: string }).value = value), v);
      });
      assertStayedHome(`posted next=${JSON.stringify(v)}`, r);
    }
    assert.deepEqual(evilVisits, []);
  });

  it("sends a Location that Chromium's own URL parser resolves to the dashboard, for each next", async () => {
    // Above, the page's `form-action 'self'` also stops a form's redirect to another origin in
    // Chromium; this checks the answer itself, as any browser (or a page without that CSP) reads it.
    const page = await browser.newPage();
    try {
      await page.goto(dash.url + '/login', { waitUntil: 'load' });
      const home = new URL(dash.url).origin;
      for (const v of [...HOSTILE, ...KEPT]) {
        const body = new URLSearchParams({ token: TOKEN, next: v }).toString();
        const r = await rawRequest(dash.url + '/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: home }, body });
        assert.equal(r.status, 303, JSON.stringify(v));
        const location = String(r.headers.location);
        const resolved = await page.evaluate(([loc, base]) => new URL(loc!, base).href, [location, dash.url + '/login']);
        assert.equal(new URL(resolved).origin, home, `next=${JSON.stringify(v)}: Location ${JSON.stringify(location)} resolves to ${resolved}`);
      }
    } finally {
      await page.close();
    }
  });

  it('still goes back to the page that asked for the login', async () => {
    const r = await loginFrom('/repos?x=1', async () => undefined);
    assert.equal(r.finalUrl, `${dash.url}/repos?x=1`);
  });
});
