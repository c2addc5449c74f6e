import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import { enqueueMail, markAttemptFailed } from '../../src/store/outgoing-mail.ts';
import { saveListenerStatus } from '../../src/store/repo-status.ts';
import { appendTaskEvent } from '../../src/store/task-events.ts';
import { insertNetworkRequests } from '../../src/store/network-log.ts';
import type { Db } from '../../src/store/database.ts';
import { launchChromium } from './chromium.ts';
import { insertTask, makeConfig, makeOptions, netEntry, readSse, tempDb, type Harness } from './helpers.ts';

/** What a hostile agent can put in a request the proxy logs: the Host header, the path, the method. */
const EVIL_HOST = `<img src=x onerror=alert(1)>.evil.example`;
const EVIL_PATH = `/"><script>alert(1)</script>/<img src=x onerror=alert(1)>`;
const EVIL_METHOD = `<svg onload=alert(1)>`;
const EVIL = `<script>alert(1)</script> "><img src=x onerror=alert(1)> [x](javascript:alert(1)) javascript:alert(1) ' onmouseover='alert(1)`;

/** Signs of markup from data becoming live: a tag, an event-handler attribute, a javascript: URL. */
function assertInert(html: string, where: string): void {
  assert.ok(!/<script>alert/i.test(html), `${where}: live <script>`);
  assert.ok(!/<img[^>]*src=x/i.test(html), `${where}: live <img>`);
  assert.ok(!/<[a-z][^>]*\son[a-z]+\s*=/i.test(html), `${where}: event-handler attribute`);
  assert.ok(!/(href|src|action)\s*=\s*["']?\s*javascript:/i.test(html), `${where}: javascript: URL`);
  const inlineScripts = (html.match(/<script(?![^>]*\ssrc=)[^>]*>/gi) ?? []).length;
  assert.equal(inlineScripts, 0, `${where}: inline script element`);
}

describe('everything from an email renders as text', () => {
  let db: Db;
  let cleanup: () => void;
  let h: Harness;
  let dash: RunningDashboard;
  let browser: Browser;
  let taskId: number;

  before(async () => {
    ({ db, cleanup } = tempDb());
    h = makeOptions(db, makeConfig(['alpha']));
    taskId = insertTask(db, {
      repoId: 'alpha',
      status: 'failed',
      subject: EVIL,
      sender: `"${EVIL}" <evil@example.com>`,
      error: EVIL,
      conversationId: 'c0ffee00',
      model: EVIL,
      startedAt: Date.now() - 2000,
      finishedAt: Date.now(),
    });
    insertTask(db, { repoId: 'alpha', status: 'rejected', reason: EVIL, detail: EVIL, subject: EVIL, sender: EVIL });
    db.prepare(`INSERT INTO conversations (repo_id, id, subject, sender, model, created_at, last_activity_at) VALUES ('alpha', 'c0ffee00', ?, ?, ?, 1, 2)`).run(EVIL, EVIL, EVIL);
    appendTaskEvent(db, taskId, 'system_init', { type: 'system_init', sessionId: EVIL, model: EVIL, cwd: EVIL });
    appendTaskEvent(db, taskId, 'assistant_text', { type: 'assistant_text', text: EVIL });
    appendTaskEvent(db, taskId, 'tool_use', { type: 'tool_use', id: EVIL, name: EVIL, input: { command: EVIL, file_path: EVIL, nested: { deep: EVIL } } });
    appendTaskEvent(db, taskId, 'tool_result', { type: 'tool_result', toolUseId: EVIL, content: EVIL, isError: true });
    appendTaskEvent(db, taskId, 'todo_list', { type: 'todo_list', todos: [{ content: EVIL, status: EVIL }, { content: 'x', status: 'in_progress', activeForm: EVIL }] });
    appendTaskEvent(db, taskId, 'result', { type: 'result', subtype: EVIL, isError: true, result: EVIL, sessionId: null, costUsd: 0.1, turns: 2, durationMs: 1000 });
    appendTaskEvent(db, taskId, 'raw', { type: 'raw', text: EVIL });
    appendTaskEvent(db, taskId, EVIL, { anything: EVIL });
    const mailId = enqueueMail(db, { repoId: 'alpha', taskId, conversationId: 'c0ffee00', kind: 'error', messageId: '<e@x>', recipient: EVIL, subject: EVIL, raw: Buffer.from('x') });
    markAttemptFailed(db, mailId, EVIL, Date.now());
    saveListenerStatus(db, 'alpha', { state: 'backoff', detail: EVIL, lastError: EVIL, nextRetryAt: Date.now() });
    insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'c0ffee00', taskId }, [
      netEntry({ host: EVIL_HOST, path: EVIL_PATH, method: EVIL_METHOD, allowed: false, status: 403, rule: `host ${EVIL_HOST} is not in the allowlist`, error: EVIL }),
    ]);
    dash = await startDashboard(h.options);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await dash?.close();
    cleanup();
  });

  const pages = () => ['/', `/tasks/${taskId}`, '/conversations/alpha/c0ffee00', '/repos', '/?status=rejected'];

  it('the server-rendered HTML has no live markup from data', async () => {
    for (const path of pages()) {
      const res = await fetch(dash.url + path, { headers: { accept: 'text/html' } });
      assert.equal(res.status, 200, path);
      const html = await res.text();
      assertInert(html, path);
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), `${path} shows the payload as text`);
    }
    const json = await (await fetch(`${dash.url}/api/tasks/${taskId}`)).text();
    assert.ok(JSON.parse(json).task.subject === EVIL, 'the JSON API returns the data as data');
  });

  it('hostile hosts, paths and methods in the network log render as text, also in the live stream', async () => {
    const html = await (await fetch(dash.url + '/conversations/alpha/c0ffee00', { headers: { accept: 'text/html' } })).text();
    assertInert(html, 'network log');
    assert.ok(html.includes('<td class="net-host">&lt;img src=x onerror=alert(1)&gt;.evil.example</td>'), 'the host is shown escaped');
    assert.ok(html.includes('<code>/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;/&lt;img src=x onerror=alert(1)&gt;</code>'), 'the path is shown escaped');
    assert.ok(html.includes('<code>&lt;svg onload=alert(1)&gt;</code>'), 'the method is shown escaped');
    const api = (await (await fetch(dash.url + '/api/conversations/alpha/c0ffee00/network')).json()) as { requests: Array<{ host: string; path: string; method: string }> };
    assert.deepEqual([api.requests[0]?.host, api.requests[0]?.path, api.requests[0]?.method], [EVIL_HOST, EVIL_PATH, EVIL_METHOD], 'the JSON API returns the data as data');
    const s = await readSse(`${dash.url}/api/stream/conversations/alpha/c0ffee00?after=0`, {}, (evs) => evs.some((e) => e.event === 'network'));
    s.close();
    assertInert(JSON.parse(s.events.find((e) => e.event === 'network')!.data).html, 'network stream');
  });

  it('in Chromium no dialog fires and no inline script exists, also for live updates', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      for (const path of pages()) {
        await page.goto(dash.url + path, { waitUntil: 'load' });
        assert.equal(await page.evaluate('document.querySelectorAll("script:not([src])").length'), 0, path);
        assert.equal(await page.evaluate('document.querySelectorAll("img, [onerror], [onmouseover]").length'), 0, path);
        assert.equal(await page.evaluate('[...document.querySelectorAll("a[href]")].filter(a => !a.href.startsWith(location.origin)).length'), 0, `${path}: every link stays on the site`);
      }
      // Live: the list and the timeline insert server-rendered fragments.
      await page.goto(`${dash.url}/tasks/${taskId}`, { waitUntil: 'load' });
      await page.waitForSelector('#live-indicator:not([hidden])');
      const ev = appendTaskEvent(db, taskId, 'assistant_text', { type: 'assistant_text', text: EVIL });
      h.feed.emit('task-event', { taskId, eventId: ev });
      await page.waitForSelector(`[data-event-id="${ev}"]`);
      const text = await page.textContent(`[data-event-id="${ev}"] .md`);
      // Rendered as markdown: a line opening with a tag is a raw HTML block, shown as the text it is.
      assert.equal(text?.trim(), EVIL, 'the payload is shown as the text it is');

      await page.goto(`${dash.url}/conversations/alpha/c0ffee00`, { waitUntil: 'load' });
      await page.waitForSelector('#live-indicator:not([hidden])');
      const netId = insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'c0ffee00', taskId }, [
        netEntry({ host: EVIL_HOST, path: EVIL_PATH, method: EVIL_METHOD, rule: EVIL, error: EVIL }),
      ]);
      h.feed.emit('network', { repoId: 'alpha', conversationId: 'c0ffee00', taskId, lastId: netId });
      await page.waitForSelector(`[data-net-id="${netId}"]`);
      assert.equal(await page.textContent(`[data-net-id="${netId}"] .net-host`), EVIL_HOST, 'the host is shown as the text it is');
      assert.equal(await page.textContent(`[data-net-id="${netId}"] .net-path`), EVIL_PATH, 'the path is shown as the text it is');
      assert.equal(await page.evaluate('document.querySelectorAll("script:not([src]), img, svg, [onerror], [onload]").length'), 0);

      await page.goto(`${dash.url}/`, { waitUntil: 'load' });
      await page.waitForSelector('#live-indicator:not([hidden])');
      const fresh = insertTask(db, { repoId: 'alpha', subject: EVIL, sender: EVIL });
      h.feed.emit('task', fresh);
      await page.waitForSelector(`[data-task-id="${fresh}"]`);
      assert.equal(await page.evaluate('document.querySelectorAll("script:not([src]), img, [onerror]").length'), 0);
      await page.waitForTimeout(200);
      assert.deepEqual(dialogs, []);
    } finally {
      await page.close();
    }
  });
});
