/** The conversation as a mail thread and the task page's request and reply: order, rendering, and that nothing hostile runs. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createDashboardApp, startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { launchChromium } from './chromium.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';
import { CONV, seedThread, type SeededThread } from './thread-seed.ts';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const BASE = 'http://localhost';

function positions(html: string, markers: readonly string[]): number[] {
  return markers.map((m) => {
    const i = html.indexOf(m);
    assert.ok(i >= 0, `${m} is on the page`);
    return i;
  });
}

describe('the conversation thread and the request and reply (routes)', () => {
  let db: Db;
  let cleanup: () => void;
  let seeded: SeededThread;
  let app: ReturnType<typeof createDashboardApp>;
  const get = async (path: string): Promise<{ status: number; html: string }> => {
    const res = await app.request(BASE + path, { headers: { accept: 'text/html' } });
    return { status: res.status, html: await res.text() };
  };

  before(() => {
    ({ db, cleanup } = tempDb());
    seeded = seedThread(db, Date.parse('2026-05-01T10:00:00Z'));
    app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
  });
  after(() => cleanup());

  it('reads oldest first: mail, task, reply, next mail; a live follow-up inside its run, a coalesced one before the reply', async () => {
    const { status, html } = await get(`/conversations/alpha/${CONV}`);
    assert.equal(status, 200);
    const order = positions(html, [
      'FIRST-REQUEST',
      `data-task-id="${seeded.first}"`,
      'FIRST-REPLY',
      'SECOND-REQUEST',
      `data-task-id="${seeded.second}"`,
      'BEFORE-LIVE',
      'LIVE-REQUEST',
      'AFTER-LIVE',
      'COALESCED-REQUEST',
      'SECOND-REPLY',
      'id="network"',
    ]);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'in thread order');
    assert.match(html, /<h1 class="conversation-title">Fix the login<span class="conv-label" data-role="conversation-label"[^>]*>c0ffee00<\/span><\/h1>/);
    assert.match(html, /<title>Fix the login · c0ffee00 · airut<\/title>/);
    assert.match(html, /<strong>the login<\/strong>/, 'the request is rendered');
    assert.match(html, /<strong>fixed<\/strong>/, 'the reply is rendered');
    assert.match(html, /<pre class="md-pre"><code class="language-ts">const ok = true;<\/code><\/pre>/);
    assert.match(html, /<details class="original" data-role="request-original"><summary>original text<\/summary><pre>[^<]*ORIGINAL-ONLY/);
    assert.match(html, new RegExp(`<a class="file-name" href="/tasks/${seeded.first}/files/${seeded.keptFile}" download>spec&lt;script&gt;.txt</a>`));
    assert.match(html, /huge\.bin<\/span> <span class="muted">47\.7 MiB<\/span> <span class="muted">— not kept: over the size cap<\/span>/);
    assert.match(html, /data-role="files-out"><li data-role="file" data-kept="true"><a class="file-name" href="\/tasks\/\d+\/files\/\d+" download>report\.md<\/a>/);
    assert.match(html, new RegExp(`data-role="merged-note">coalesced into <a href="/tasks/${seeded.second}"`));
    assert.match(html, new RegExp(`data-role="merged-note">live into <a href="/tasks/${seeded.second}"`));
    assert.match(html, /<details class="thread-timeline" data-role="thread-timeline"><summary>timeline \(2 events\)<\/summary>/);
  });

  it('keeps hostile markdown and HTML inert in the request, the reply and the timeline', async () => {
    for (const path of [`/conversations/alpha/${CONV}`, `/tasks/${seeded.first}`]) {
      const { html } = await get(path);
      const main = html.slice(html.indexOf('<main>'));
      assert.doesNotMatch(main, /<(?:script|img|iframe|svg)\b/i, path);
      assert.doesNotMatch(main, /href="(?:javascript|data):/i, path);
      assert.doesNotMatch(main, /\sstyle="/i, path);
      assert.match(main, /&lt;script&gt;window\.__pwned/, `${path}: raw HTML shown as text`);
      assert.match(main, /<a class="md-image" href="http:\/\/evil\.example\/pixel\.png" rel="noopener noreferrer nofollow">pixel<\/a>/, `${path}: an image is a link`);
    }
  });

  it('the task page shows the request and the reply, with their files, and a clean title with the conversation label', async () => {
    const { status, html } = await get(`/tasks/${seeded.first}`);
    assert.equal(status, 200);
    const [req, reply, timeline] = positions(html, ['<section class="request" id="request"><h2>Request</h2>', '<section class="reply" id="reply"><h2>Reply</h2>', '<h2>Timeline</h2>']);
    assert.ok(req! < reply! && reply! < timeline!);
    assert.match(html, /<h1 class="task-title">Fix the login <span class="muted">#\d+<\/span><span class="conv-label" data-role="conversation-label"[^>]*>c0ffee00<\/span><\/h1>/);
    assert.match(html, /<title>#\d+ Fix the login · airut<\/title>/);
    assert.match(html.slice(req!, reply!), /data-role="files-in"/);
    assert.match(html.slice(reply!, timeline!), /data-role="reply-text"[\s\S]*FIRST-REPLY[\s\S]*data-role="files-out"/);
    assert.match(html, /<table class="replies">/, 'the Mail sent table stays');
  });

  it('says so when a request or a reply is missing, or a reply body was not kept', async () => {
    const bare = insertTask(db, { repoId: 'alpha', status: 'running', subject: 'RE: AW: ', startedAt: Date.now() });
    // Only the header section stored (as for a rejected mail): no text to fill in from the raw message.
    db.prepare(`UPDATE messages SET stored = 'headers' WHERE id = (SELECT message_row FROM tasks WHERE id = ?)`).run(bare);
    const { html } = await get(`/tasks/${bare}`);
    assert.match(html, /data-role="request-missing">The text of this mail was not recorded\./);
    assert.match(html, /data-role="reply-missing">No reply yet\./);
    assert.match(html, /<h1 class="task-title">\(no subject\) <span class="muted">/);
    assert.doesNotMatch(html, /data-role="conversation-label"/, 'no conversation, no label');
  });

  it('a merged mail’s page points to the reply that answered it', async () => {
    const { html } = await get(`/tasks/${seeded.coalesced}`);
    assert.match(html, /COALESCED-REQUEST/);
    assert.match(html, new RegExp(`data-role="reply-elsewhere">Answered in the reply of <a href="/tasks/${seeded.second}#reply">#${seeded.second}</a>`));
  });

  it('task cards carry the clean title and the conversation label', async () => {
    const { html } = await get('/?repo=alpha');
    assert.match(html, new RegExp(`<a class="subject" href="/tasks/${seeded.second}">Fix the login</a><span class="conv-label" data-role="conversation-label"`));
    assert.doesNotMatch(html, /class="subject"[^>]*>(?:Re|Fwd):/);
  });

  it('an unknown conversation or task is a clear 404', async () => {
    const conv = await get('/conversations/alpha/ffffffff');
    assert.equal(conv.status, 404);
    assert.match(conv.html, /There is no conversation with this id in this repository\./);
    const task = await get('/tasks/999999');
    assert.equal(task.status, 404);
    assert.match(task.html, /There is no task with this number\./);
  });
});

describe('the conversation thread in a real browser', () => {
  let db: Db;
  let cleanup: () => void;
  let dash: RunningDashboard;
  let browser: Browser;
  let seeded: SeededThread;

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    ({ db, cleanup } = tempDb());
    seeded = seedThread(db, Date.now() - 3_600_000);
    dash = await startDashboard(makeOptions(db, makeConfig(['alpha'])).options);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await dash?.close();
    cleanup();
  });

  /** Opens a page, records every request, dialog and CSP complaint, and opens every toggle. */
  async function visit(page: Page, path: string): Promise<{ requests: string[]; dialogs: string[]; csp: string[] }> {
    const seen = { requests: [] as string[], dialogs: [] as string[], csp: [] as string[] };
    page.on('request', (r) => seen.requests.push(r.url()));
    page.on('dialog', (d) => {
      seen.dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) seen.csp.push(m.text());
    });
    await page.goto(dash.url + path, { waitUntil: 'load' });
    await page.waitForSelector('#live-indicator:not([hidden])', { timeout: 15_000 }).catch(() => undefined);
    await page.locator('details').evaluateAll((all) => all.forEach((d) => ((d as unknown as { open: boolean }).open = true)));
    for (const el of await page.locator('.md a, .md, [data-role="mail-in"], [data-role="mail-out"]').all()) await el.hover().catch(() => undefined);
    return seen;
  }

  function assertNothingRan(seen: { requests: string[]; dialogs: string[]; csp: string[] }, pwned: unknown): void {
    assert.equal(pwned, undefined, 'no injected script ran');
    assert.deepEqual(seen.dialogs, [], 'no dialog');
    assert.ok(seen.requests.some((u) => u.startsWith(dash.url + '/static/')), 'the watcher saw the page load its own files');
    const foreign = seen.requests.filter((u) => !u.startsWith(dash.url + '/'));
    assert.deepEqual(foreign, [], 'no request left for another host');
    assert.deepEqual(seen.csp, [], 'nothing the CSP had to block');
  }

  it('shows the two mails as a thread in order, and nothing hostile runs or loads', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const seen = await visit(page, `/conversations/alpha/${CONV}`);
      const items = await page.locator('[data-role="thread"] [data-role="mail-in"], [data-role="thread"] .card, [data-role="thread"] [data-role="mail-out"]').evaluateAll((els) =>
        els.map((e) => e.getAttribute('data-mail-task') ? `in:${e.getAttribute('data-mail-task')}` : e.getAttribute('data-task-id') ? `task:${e.getAttribute('data-task-id')}` : 'out'),
      );
      const { first, second, coalesced, live } = seeded;
      assert.deepEqual(items, [`in:${first}`, `task:${first}`, 'out', `in:${second}`, `task:${second}`, `in:${live}`, `in:${coalesced}`, 'out']);
      assert.equal(await page.locator('[data-role="reply-text"] strong').first().textContent(), 'fixed');
      assert.equal(await page.locator('[data-role="request-original"] pre').first().isVisible(), true);
      assertNothingRan(seen, await page.evaluate('window.__pwned'));
      await page.screenshot({ path: new URL('dashboard-conversation-thread.png', ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('the task page shows the request and the reply, and nothing hostile runs or loads', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const seen = await visit(page, `/tasks/${seeded.first}`);
      assert.match((await page.locator('#request [data-role="request-text"]').textContent()) ?? '', /FIRST-REQUEST please fix the login/);
      assert.match((await page.locator('#reply [data-role="reply-text"]').textContent()) ?? '', /FIRST-REPLY fixed it/);
      assert.equal(await page.locator('#request [data-role="file"]').count(), 2);
      assert.equal(await page.locator('#reply [data-role="file"] a').getAttribute('href'), `/tasks/${seeded.first}/files/${seeded.keptFile + 2}`);
      assertNothingRan(seen, await page.evaluate('window.__pwned'));
      await page.screenshot({ path: new URL('dashboard-task-request-reply.png', ARTIFACTS).pathname, fullPage: true });
    } finally {
      await page.close();
    }
  });
});
