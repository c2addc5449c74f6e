import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardApp, startDashboard } from '../../src/dashboard/server.ts';
import { NETWORK_LIVE_ROWS, NETWORK_PAGE_ROWS } from '../../src/dashboard/network-view.ts';
import type { Db } from '../../src/store/database.ts';
import { insertNetworkRequests } from '../../src/store/network-log.ts';
import { setTaskNetworkSandbox } from '../../src/store/task-queue.ts';
import { insertTask, makeConfig, makeOptions, netEntry, readSse, tempDb, type SseEvent } from './helpers.ts';

const BASE = 'http://localhost';
type App = ReturnType<typeof createDashboardApp>;

async function getJson(app: App, path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const r = await app.request(BASE + path, init);
  return { status: r.status, body: await r.json() };
}

async function page(app: App, path: string): Promise<string> {
  const r = await app.request(BASE + path, { headers: { accept: 'text/html' } });
  assert.equal(r.status, 200, path);
  return r.text();
}

/** The HTML of one task card on a page. */
function cardOf(html: string, taskId: number): string {
  const m = new RegExp(`<article class="card" data-task-id="${taskId}"[\\s\\S]*?</article>`).exec(html);
  assert.ok(m, `card of task ${taskId}`);
  return m[0];
}

/** data-net-id values of the network table, in page order. */
function netIds(html: string): number[] {
  return [...html.matchAll(/data-net-id="(\d+)"/g)].map((m) => Number(m[1]));
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(cond(), what);
}

describe('conversation network log: page and JSON API', () => {
  let db: Db;
  let cleanup: () => void;
  let app: App;
  before(() => {
    ({ db, cleanup } = tempDb());
    app = createDashboardApp(makeOptions(db, makeConfig(['alpha', 'beta'])).options);
  });
  after(() => cleanup());

  it('pages a conversation’s requests oldest first with an id cursor, and refuses bad parameters', async () => {
    const t1 = insertTask(db, { repoId: 'alpha', status: 'completed', conversationId: 'aaaa0001' });
    const t2 = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'aaaa0001' });
    const other = insertTask(db, { repoId: 'alpha', conversationId: 'aaaa0002' });
    const sameIdOtherRepo = insertTask(db, { repoId: 'beta', conversationId: 'aaaa0001' });
    insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'aaaa0001', taskId: t1 }, [
      netEntry({ path: '/a' }),
      netEntry({ method: 'POST', host: 'api.github.com', path: '/repos/x/pulls', status: 403, allowed: false, rule: 'method POST is not allowed for api.github.com/repos/x/pulls' }),
      netEntry({ host: 'api.anthropic.com', path: '/v1/messages', method: 'POST', masked: 1, rule: 'url_prefixes[0]: api.anthropic.com /v1/*' }),
    ]);
    insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'aaaa0002', taskId: other }, [netEntry({ path: '/elsewhere' })]);
    insertNetworkRequests(db, { repoId: 'beta', conversationId: 'aaaa0001', taskId: sameIdOtherRepo }, [netEntry({ path: '/other-repo' })]);
    insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'aaaa0001', taskId: t2 }, [netEntry({ path: '/b' }), netEntry({ path: '/c', status: 0, error: 'upstream timed out' })]);

    const all = await getJson(app, '/api/conversations/alpha/aaaa0001/network');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.requests.map((r: any) => r.path), ['/a', '/repos/x/pulls', '/v1/messages', '/b', '/c'], 'only this conversation of this repo, oldest first');
    assert.equal(all.body.more, false);
    assert.equal(all.body.lastId, all.body.requests[4].id);
    const blocked = all.body.requests[1];
    assert.deepEqual(
      { taskId: blocked.taskId, taskUrl: blocked.taskUrl, method: blocked.method, host: blocked.host, status: blocked.status, allowed: blocked.allowed, rule: blocked.rule },
      { taskId: t1, taskUrl: `/tasks/${t1}`, method: 'POST', host: 'api.github.com', status: 403, allowed: false, rule: 'method POST is not allowed for api.github.com/repos/x/pulls' },
    );
    assert.equal(all.body.requests[2].masked, 1);
    assert.equal(all.body.requests[4].error, 'upstream timed out');

    // Paging with the cursor sees every row once; rows stored meanwhile come at the end.
    const seen: string[] = [];
    let cursor = 0;
    for (let pageNo = 0; ; pageNo++) {
      const r = await getJson(app, `/api/conversations/alpha/aaaa0001/network?after=${cursor}&limit=2`);
      assert.equal(r.status, 200);
      seen.push(...r.body.requests.map((x: any) => x.path));
      cursor = r.body.lastId;
      if (pageNo === 0) insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'aaaa0001', taskId: t2 }, [netEntry({ path: '/d' })]);
      if (!r.body.more) break;
    }
    assert.deepEqual(seen, ['/a', '/repos/x/pulls', '/v1/messages', '/b', '/c', '/d']);
    const empty = await getJson(app, `/api/conversations/alpha/aaaa0001/network?after=${cursor}`);
    assert.deepEqual({ requests: empty.body.requests, lastId: empty.body.lastId, more: empty.body.more }, { requests: [], lastId: cursor, more: false });

    for (const bad of ['after=x', 'after=-1', 'limit=0', 'limit=1001', 'limit=2.5']) {
      assert.equal((await getJson(app, `/api/conversations/alpha/aaaa0001/network?${bad}`)).status, 400, bad);
    }
    assert.equal((await getJson(app, '/api/conversations/alpha/ffffffff/network')).status, 404);
    assert.equal((await getJson(app, '/api/conversations/gamma/aaaa0001/network')).status, 404);
  });

  it('renders the newest requests on top, at most NETWORK_PAGE_ROWS, with verdicts, rules and masked counts', async () => {
    const t = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'bbbb0001' });
    const scope = { repoId: 'alpha', conversationId: 'bbbb0001', taskId: t };
    insertNetworkRequests(db, scope, Array.from({ length: NETWORK_PAGE_ROWS + 20 }, (_, i) => netEntry({ path: `/pkg/${i}` })));
    const lastId = insertNetworkRequests(db, scope, [
      netEntry({ host: 'evil.example', port: 8443, path: '/exfil', status: 403, allowed: false, rule: 'host evil.example is not in the allowlist' }),
      netEntry({ host: 'api.anthropic.com', method: 'POST', path: '/v1/messages', masked: 2, status: 0, error: 'socket hang up' }),
    ]);
    const html = await page(app, '/conversations/alpha/bbbb0001');
    const ids = netIds(html);
    assert.equal(ids.length, NETWORK_PAGE_ROWS, 'capped');
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest on top');
    assert.equal(ids[0], lastId);
    assert.match(html, new RegExp(`id="network-rows" data-stream="/api/stream/conversations/alpha/bbbb0001" data-after="${lastId}"`));
    assert.match(html, /<p class="muted" id="network-capped">Only the newest requests are shown/, 'the cap is explained');
    assert.match(html, /id="network-empty" hidden/);

    const row = (id: number) => new RegExp(`<tr [^>]*data-net-id="${id}"[\\s\\S]*?</tr>`).exec(html)![0];
    const blockedRow = row(lastId - 1);
    assert.match(blockedRow, /class="net-row net-blocked"/);
    assert.match(blockedRow, /<td class="net-host">evil\.example:8443<\/td>/, 'a non-default port is shown');
    assert.match(blockedRow, /data-role="verdict">blocked</);
    assert.match(blockedRow, /host evil\.example is not in the allowlist/);
    assert.match(blockedRow, new RegExp(`<a href="/tasks/${t}">#${t}</a>`));
    const maskedRow = row(lastId);
    assert.match(maskedRow, /data-role="verdict">allowed</);
    assert.match(maskedRow, /<td class="net-host">api\.anthropic\.com<\/td>/);
    assert.match(maskedRow, /class="net-masked"[^>]*>2</);
    assert.match(maskedRow, /<td title="12 ms">—<\/td>/, 'no status sent');
    assert.match(maskedRow, /socket hang up/);

    const small = insertTask(db, { repoId: 'alpha', conversationId: 'bbbb0002' });
    insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'bbbb0002', taskId: small }, [netEntry()]);
    const smallHtml = await page(app, '/conversations/alpha/bbbb0002');
    assert.equal(netIds(smallHtml).length, 1);
    assert.match(smallHtml, /id="network-capped" hidden/);

    const stripping = insertTask(db, { repoId: 'alpha', conversationId: 'bbbb0009' });
    insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'bbbb0009', taskId: stripping }, [
      netEntry({ host: 'api.github.com', stripped: 1, rule: "domains[0]: api.github.com; STRIPPED header 'authorization' (foreign credential blocked)" }),
    ]);
    const strippedHtml = await page(app, '/conversations/alpha/bbbb0009');
    assert.match(strippedHtml, /data-role="stripped"[^>]*>stripped 1</, 'the stripped count is a warning tag');
    assert.match(strippedHtml, /STRIPPED header &#39;authorization&#39; \(foreign credential blocked\)|STRIPPED header 'authorization' \(foreign credential blocked\)/);
    const api = await getJson(app, '/api/conversations/alpha/bbbb0009/network');
    assert.equal(api.body.requests[0].stripped, 1);
    insertTask(db, { repoId: 'alpha', conversationId: 'bbbb0003' });
    const none = await page(app, '/conversations/alpha/bbbb0003');

    // An accepted git push names its refs, escaped (ref names come from the container).
    const pushTask = insertTask(db, { repoId: 'alpha', conversationId: 'bbbb0004' });
    const pushId = insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'bbbb0004', taskId: pushTask }, [
      netEntry({ host: 'github.com', method: 'POST', path: '/o/r.git/git-receive-pack', pushed: ['refs/heads/fix', 'refs/heads/<b>x'] }),
    ]);
    const pushHtml = await page(app, '/conversations/alpha/bbbb0004');
    const pushRow = new RegExp(`<tr [^>]*data-net-id="${pushId}"[\\s\\S]*?</tr>`).exec(pushHtml)![0];
    assert.match(pushRow, /<div class="net-pushed" data-role="pushed">pushed: <code>refs\/heads\/fix<\/code>, <code>refs\/heads\/&lt;b&gt;x<\/code><\/div>/);
    assert.doesNotMatch(row(lastId), /net-pushed/);
    assert.match(none, /<p class="muted" id="network-empty">No network requests logged yet\.<\/p>/);
    assert.match(none, /data-after="0"/);
  });

  it('marks a task whose container had unrestricted network on its card, its page and its conversation', async () => {
    const sandboxed = insertTask(db, { repoId: 'alpha', status: 'completed', conversationId: 'cccc0001' });
    const open = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'cccc0001' });
    const notStarted = insertTask(db, { repoId: 'alpha', status: 'queued', conversationId: 'cccc0001' });
    setTaskNetworkSandbox(db, sandboxed, true);
    setTaskNetworkSandbox(db, open, false);
    const UNSANDBOXED = /<span class="net-badge unsandboxed" data-role="sandbox" title="this task&#39;s container had unrestricted network access">unsandboxed<\/span>/;
    const SANDBOXED = /class="net-badge sandboxed"[^>]*>sandboxed</;

    for (const path of ['/?repo=alpha', '/conversations/alpha/cccc0001']) {
      const html = await page(app, path);
      assert.match(cardOf(html, open), UNSANDBOXED, path);
      assert.doesNotMatch(cardOf(html, open), SANDBOXED, path);
      assert.match(cardOf(html, sandboxed), SANDBOXED, path);
      assert.doesNotMatch(cardOf(html, sandboxed), /unsandboxed/, path);
      assert.doesNotMatch(cardOf(html, notStarted), /net-badge/, `${path}: nothing before the container started`);
    }
    const conv = await page(app, '/conversations/alpha/cccc0001');
    assert.match(conv, new RegExp(`data-role="unsandboxed-note"><a href="/tasks/${open}">#${open}</a> ran with unrestricted network access`));

    const openPage = await page(app, `/tasks/${open}`);
    assert.match(openPage, UNSANDBOXED);
    assert.match(openPage, /<dt>Network<\/dt><dd><strong class="error-text">unrestricted<\/strong>/);
    const sandboxedPage = await page(app, `/tasks/${sandboxed}`);
    assert.match(sandboxedPage, SANDBOXED);
    assert.match(sandboxedPage, /through the allowlist proxy · <a href="\/conversations\/alpha\/cccc0001#network" data-role="network-log">request log<\/a>/);
    assert.doesNotMatch(await page(app, `/tasks/${notStarted}`), /<dt>Network<\/dt>|net-badge/);

    const list = await getJson(app, '/api/tasks?repo=alpha&limit=200');
    const flag = (id: number) => list.body.tasks.find((x: any) => x.id === id).networkSandbox;
    assert.deepEqual([flag(sandboxed), flag(open), flag(notStarted)], [true, false, null], 'the list query reads the flag too');
  });

  it('needs the token when one is set', async () => {
    const TOKEN = 'net-token-0123456789';
    const locked = createDashboardApp(makeOptions(db, makeConfig(['alpha'], { authToken: TOKEN })).options);
    for (const path of ['/api/conversations/alpha/aaaa0001/network', '/api/stream/conversations/alpha/aaaa0001', '/conversations/alpha/aaaa0001']) {
      const r = await locked.request(BASE + path, { headers: { accept: 'application/json' } });
      assert.equal(r.status, 401, path);
      assert.doesNotMatch(await r.text(), /registry\.npmjs|pulls/, path);
    }
    const ok = await getJson(locked, '/api/conversations/alpha/aaaa0001/network', { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.requests.length > 0);
  });
});

describe('conversation network log: live stream', () => {
  it('replays after the cursor, follows new rows and the conversation’s task changes, and cleans up', async () => {
    const { db, cleanup } = tempDb();
    const h = makeOptions(db, makeConfig(['alpha']));
    const dash = await startDashboard(h.options);
    const network = (evs: SseEvent[]) => evs.filter((e) => e.event === 'network');
    try {
      const t = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'dddd0001', startedAt: Date.now() });
      const elsewhere = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'dddd0002' });
      const scope = { repoId: 'alpha', conversationId: 'dddd0001', taskId: t };
      const first = insertNetworkRequests(db, scope, [netEntry({ path: '/one' })]);
      insertNetworkRequests(db, scope, [netEntry({ path: '/two' }), netEntry({ path: '/three', allowed: false, status: 403, rule: 'path /three is not allowed on registry.npmjs.org' })]);

      // Replay after the cursor.
      const replay = await readSse(`${dash.url}/api/stream/conversations/alpha/dddd0001?after=${first}`, {}, (evs) => network(evs).length >= 2);
      const replayed = network(replay.events).map((e) => ({ id: Number(e.id), ...JSON.parse(e.data) }));
      assert.deepEqual(replayed.map((r) => r.id), [first + 1, first + 2]);
      assert.deepEqual(replayed.map((r) => [r.taskId, r.allowed]), [[t, true], [t, false]]);
      assert.match(replayed[0].html, /^<tr class="net-row net-allowed" data-net-id="\d+"[\s\S]*\/two/);
      assert.match(replayed[1].html, /path \/three is not allowed/);
      assert.equal(h.feed.listenerCount('network'), 1);
      replay.close();
      await until(() => h.feed.listenerCount('network') === 0, 'the feed listener goes when the last stream closes');

      // Follow: Last-Event-ID resumes; rows of another conversation are not sent.
      const live = readSse(
        `${dash.url}/api/stream/conversations/alpha/dddd0001`,
        { 'last-event-id': String(first + 2) },
        (evs) => network(evs).length >= 2 && evs.some((e) => e.event === 'task'),
      );
      await until(() => h.feed.listenerCount('network') === 1, 'the stream subscribed');
      const otherId = insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'dddd0002', taskId: elsewhere }, [netEntry({ path: '/not-mine' })]);
      h.feed.emit('network', { repoId: 'alpha', conversationId: 'dddd0002', taskId: elsewhere, lastId: otherId });
      setTaskNetworkSandbox(db, elsewhere, false);
      h.feed.emit('task', elsewhere);
      const fourth = insertNetworkRequests(db, scope, [netEntry({ path: '/four' })]);
      h.feed.emit('network', { repoId: 'alpha', conversationId: 'dddd0001', taskId: t, lastId: fourth });
      h.feed.emit('network', { repoId: 'alpha', conversationId: 'dddd0001', taskId: t, lastId: fourth }); // a repeated nudge sends nothing twice
      const fifth = insertNetworkRequests(db, scope, [netEntry({ host: 'github.com', path: '/five' })]);
      h.feed.emit('network', { repoId: 'alpha', conversationId: 'dddd0001', taskId: t, lastId: fifth });
      setTaskNetworkSandbox(db, t, false);
      h.feed.emit('task', t);
      const followed = await live;
      const rows = network(followed.events);
      assert.deepEqual(rows.map((e) => Number(e.id)), [fourth, fifth]);
      assert.match(JSON.parse(rows[1]!.data).html, /github\.com[\s\S]*\/five/);
      const tasks = followed.events.filter((e) => e.event === 'task').map((e) => JSON.parse(e.data));
      assert.deepEqual(tasks.map((x) => x.id), [t], 'only this conversation’s tasks');
      assert.match(tasks[0].html, /class="net-badge unsandboxed"/);
      assert.ok(!followed.events.some((e) => e.data.includes('/not-mine')));
      followed.close();
      await until(() => h.feed.listenerCount('network') === 0 && h.feed.listenerCount('task') === 0, 'listeners removed');

      const missing = await fetch(`${dash.url}/api/stream/conversations/alpha/ffff0000`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    } finally {
      await dash.close();
      cleanup();
    }
  });

  it('a viewer far behind skips to the newest rows the page keeps instead of replaying the whole log', async () => {
    const { db, cleanup } = tempDb();
    const h = makeOptions(db, makeConfig(['alpha']));
    const dash = await startDashboard(h.options);
    try {
      const t = insertTask(db, { repoId: 'alpha', status: 'running', conversationId: 'eeee0001' });
      const total = NETWORK_LIVE_ROWS + 150;
      const last = insertNetworkRequests(db, { repoId: 'alpha', conversationId: 'eeee0001', taskId: t }, Array.from({ length: total }, (_, i) => netEntry({ path: `/r/${i}` })));
      const firstId = last - total + 1;
      const s = await readSse(`${dash.url}/api/stream/conversations/alpha/eeee0001?after=0`, {}, (evs) => evs.filter((e) => e.event === 'network').length >= NETWORK_LIVE_ROWS, 20_000);
      s.close();
      const [skipped, ...rest] = s.events;
      assert.equal(skipped!.event, 'skipped');
      assert.deepEqual(JSON.parse(skipped!.data), { after: 0, resumeAfter: firstId + 149 });
      assert.equal(skipped!.id, String(firstId + 149), 'a reconnect resumes after the skip');
      assert.equal(rest.length, NETWORK_LIVE_ROWS);
      assert.equal(Number(rest[0]!.id), firstId + 150);
      assert.equal(Number(rest[rest.length - 1]!.id), last);
    } finally {
      await dash.close();
      cleanup();
    }
  });
});
