/**
 * API tokens on the dashboard: a token scoped to repository alpha sees alpha and nothing of beta,
 * on every route, page and stream, with the same 404 a thing that does not exist gets; a read
 * token may not stop; a revoked token is refused like a wrong one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardApp, startDashboard } from '../../src/dashboard/server.ts';
import { createApiToken, listApiTokens, revokeApiToken } from '../../src/store/api-tokens.ts';
import { upsertConversation } from '../../src/store/conversations.ts';
import type { Db } from '../../src/store/database.ts';
import { insertNetworkRequests } from '../../src/store/network-log.ts';
import { addTaskFile } from '../../src/store/task-content.ts';
import { appendTaskEvent } from '../../src/store/task-events.ts';
import { insertTask, makeConfig, makeOptions, netEntry, readSse, tempDb, type Harness } from './helpers.ts';

const BASE = 'http://localhost';
const ADMIN = 'admin-token-0123456789abcdef0123456789';
type App = ReturnType<typeof createDashboardApp>;

describe('API tokens scope the dashboard', () => {
  let db: Db;
  let cleanup: () => void;
  let h: Harness;
  let app: App;
  let readA: string;
  let submitA: string;
  let revoked: string;
  let taskA: number;
  let taskB: number;
  let fileB: number;

  before(() => {
    ({ db, cleanup } = tempDb());
    h = makeOptions(db, makeConfig(['alpha', 'beta'], { authToken: ADMIN }));
    app = createDashboardApp(h.options);
    readA = createApiToken(db, { name: 'team-a-read', repos: ['alpha'], rights: 'read' }, Date.now()).token;
    submitA = createApiToken(db, { name: 'team-a', repos: ['alpha'], rights: 'submit' }, Date.now()).token;
    revoked = createApiToken(db, { name: 'old', repos: ['alpha', 'beta'], rights: 'submit' }, Date.now()).token;
    revokeApiToken(db, 'old', Date.now());
    taskA = insertTask(db, { repoId: 'alpha', subject: 'ALPHA-TASK', conversationId: 'aaaa0001', status: 'running' });
    taskB = insertTask(db, { repoId: 'beta', subject: 'BETA-SECRET', conversationId: 'bbbb0001', status: 'running' });
    upsertConversation(db, 'beta', 'bbbb0001', { subject: 'BETA-SECRET' });
    fileB = addTaskFile(db, { taskId: taskB, direction: 'in', name: 'beta.txt', size: 1, contentType: 'text/plain', path: null, sha256: null, note: 'BETA-NOTE' });
    insertNetworkRequests(db, { repoId: 'beta', conversationId: 'bbbb0001', taskId: taskB }, [netEntry({ path: '/beta' })]);
  });
  after(() => cleanup());

  const get = (path: string, token: string, accept = 'application/json'): Promise<Response> =>
    Promise.resolve(app.request(BASE + path, { headers: { authorization: `Bearer ${token}`, accept } }));

  it('a token for alpha sees alpha’s task, and beta’s things are 404 exactly as things that do not exist', async () => {
    assert.equal((await get(`/api/tasks/${taskA}`, readA)).status, 200);
    assert.equal((await get(`/tasks/${taskA}`, readA, 'text/html')).status, 200);
    const pairs: Array<[string, string, string]> = [
      [`/api/tasks/${taskB}`, '/api/tasks/999999', 'application/json'],
      [`/tasks/${taskB}`, '/tasks/999999', 'text/html'],
      [`/tasks/${taskB}/files/${fileB}`, `/tasks/999999/files/${fileB}`, 'text/html'],
      ['/api/conversations/beta/bbbb0001', '/api/conversations/alpha/nonexist', 'application/json'],
      ['/conversations/beta/bbbb0001', '/conversations/alpha/nonexist', 'text/html'],
      ['/api/conversations/beta/bbbb0001/network', '/api/conversations/alpha/nonexist/network', 'application/json'],
      [`/api/stream/tasks/${taskB}`, '/api/stream/tasks/999999', 'application/json'],
      ['/api/stream/conversations/beta/bbbb0001', '/api/stream/conversations/alpha/nonexist', 'application/json'],
    ];
    for (const [theirs, missing, accept] of pairs) {
      const r = await get(theirs, readA, accept);
      const m = await get(missing, readA, accept);
      assert.equal(r.status, 404, theirs);
      const body = await r.text();
      assert.equal(body.replace(/\d+/g, 'N'), (await m.text()).replace(/\d+/g, 'N'), `${theirs} answers like ${missing}`);
      assert.ok(!/BETA|beta\.txt/.test(body), `${theirs} leaks: ${body.slice(0, 200)}`);
    }
    // The admin sees beta's file is simply not kept: a different answer, which the token never gets.
    const admin = await get(`/tasks/${taskB}/files/${fileB}`, ADMIN, 'text/html');
    assert.match(await admin.text(), /BETA-NOTE/);
  });

  it('the task list (JSON and page) shows only alpha; repo=beta is an empty list, not an error', async () => {
    const list = (await (await get('/api/tasks', readA)).json()) as { tasks: Array<{ repoId: string }> };
    assert.ok(list.tasks.length > 0);
    assert.deepEqual([...new Set(list.tasks.map((t) => t.repoId))], ['alpha']);
    const beta = await get('/api/tasks?repo=beta', readA);
    assert.equal(beta.status, 200);
    assert.deepEqual(await beta.json(), { tasks: [], nextBefore: null });
    const searched = (await (await get('/api/tasks?q=BETA', readA)).json()) as { tasks: unknown[] };
    assert.deepEqual(searched.tasks, [], 'a search finds nothing outside the scope');
    const page = await (await get('/', readA, 'text/html')).text();
    assert.match(page, /ALPHA-TASK/);
    assert.ok(!/BETA|value="beta"/.test(page), 'neither beta’s tasks nor beta in the repository filter');
    // The admin's list, cached a fraction of a second, is not served to the token (nor the other way).
    const adminList = (await (await get('/api/tasks', ADMIN)).json()) as { tasks: Array<{ repoId: string }> };
    assert.ok(adminList.tasks.some((t) => t.repoId === 'beta'));
    const again = (await (await get('/api/tasks', readA)).json()) as { tasks: Array<{ repoId: string }> };
    assert.ok(again.tasks.every((t) => t.repoId === 'alpha'));
  });

  it('repositories, overview, health and metrics keep to the scope', async () => {
    const repos = (await (await get('/api/repos', readA)).json()) as { repos: Array<{ id: string }> };
    assert.deepEqual(repos.repos.map((r) => r.id), ['alpha']);
    const reposPage = await (await get('/repos', readA, 'text/html')).text();
    assert.ok(reposPage.includes('data-repo="alpha"') && !reposPage.includes('data-repo="beta"'));
    const overview = (await (await get('/api/overview', readA)).json()) as { costByRepo: unknown[]; tasksByOutcome: Array<{ name: string; values: number[] }> };
    const counted = overview.tasksByOutcome.reduce((n, s) => n + s.values.reduce((a, b) => a + b, 0), 0);
    assert.equal(counted, 1, 'only alpha’s one task is counted');
    assert.equal((await get('/api/overview?repo=beta', readA)).status, 404);
    assert.equal((await get('/overview?repo=beta', readA, 'text/html')).status, 404);
    const health = (await (await get('/health', readA)).json()) as { repos: Record<string, unknown> };
    assert.deepEqual(Object.keys(health.repos), ['alpha']);
    assert.equal((await get('/metrics', readA, 'text/plain')).status, 404, '/metrics is operator-wide');
    assert.equal((await get('/metrics', ADMIN, 'text/plain')).status, 200);
  });

  it('stop: 404 out of scope, 403 for a read token in scope, done with the submit right', async () => {
    const stop = (id: number, token: string): Promise<Response> =>
      Promise.resolve(app.request(BASE + `/api/tasks/${id}/stop`, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }));
    const outside = await stop(taskB, submitA);
    assert.equal(outside.status, 404);
    assert.deepEqual(await outside.json(), await (await stop(999999, submitA)).json());
    const readOnly = await stop(taskA, readA);
    assert.equal(readOnly.status, 403);
    assert.deepEqual(await readOnly.json(), { error: 'this token may only read' });
    assert.equal((await stop(taskB, readA)).status, 404, 'a read token learns nothing of beta either');
    assert.deepEqual(h.stopCalls, []);
    assert.equal((await stop(taskA, submitA)).status, 200);
    assert.deepEqual(h.stopCalls, [taskA]);
  });

  it('submit: 404 for beta (also as a companion) exactly as an unknown repository, 403 for a read token, 202 with the submit right', async () => {
    const post = (path: string, token: string, body: unknown): Promise<Response> =>
      Promise.resolve(app.request(BASE + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    const count = (): number => (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
    const before = count();
    const unknown = await (await post('/api/tasks', submitA, { repo: 'nope', prompt: 'x' })).json();
    for (const body of [{ repo: 'beta', prompt: 'x' }, { repositories: [{ repo: 'alpha' }, { repo: 'beta' }], prompt: 'x' }]) {
      const r = await post('/api/tasks', submitA, body);
      assert.equal(r.status, 404, JSON.stringify(body));
      assert.deepEqual(await r.json(), unknown);
    }
    const conv = await post('/api/conversations/beta/bbbb0001/messages', submitA, { prompt: 'x' });
    assert.equal(conv.status, 404);
    const readOnly = await post('/api/tasks', readA, { repo: 'alpha', prompt: 'x' });
    assert.equal(readOnly.status, 403);
    assert.deepEqual(await readOnly.json(), { error: 'this token may only read' });
    assert.equal((await post('/api/tasks', readA, { repo: 'beta', prompt: 'x' })).status, 404, 'a read token learns nothing of beta either');
    assert.equal(count(), before, 'nothing refused was recorded');
    const ok = await post('/api/tasks', submitA, { repo: 'alpha', prompt: 'do it' });
    assert.equal(ok.status, 202);
    const { task } = (await ok.json()) as { task: { id: number } };
    const row = db.prepare('SELECT repo_id AS repoId, sender FROM tasks WHERE id = ?').get(task.id) as { repoId: string; sender: string };
    assert.equal(row.repoId, 'alpha');
    assert.match(row.sender, /^api\+team-a@/);
  });

  it('a revoked token, an unknown one and a scoped token on the login form are refused like a wrong one', async () => {
    for (const token of [revoked, 'airut_' + 'x'.repeat(43)]) {
      const r = await get('/api/tasks', token);
      assert.equal(r.status, 401);
      assert.deepEqual(await r.json(), { error: 'unauthorized' });
    }
    const login = await app.request(BASE + '/login', {
      method: 'POST',
      headers: { origin: BASE, 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${encodeURIComponent(submitA)}&next=/`,
    });
    assert.equal(login.status, 401, 'only the dashboard’s own token logs in');
  });

  it('records when a token was last used, at most once a minute', async () => {
    const used = (): number | null => listApiTokens(db).find((t) => t.name === 'team-a-read')!.lastUsedAt;
    assert.ok(used() !== null);
    db.prepare("UPDATE api_tokens SET last_used_at = 1000 WHERE name = 'team-a-read'").run();
    await get('/api/tasks', readA);
    const first = used()!;
    assert.ok(first > 1000);
    db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE name = 'team-a-read'").run(first - 1);
    await get('/api/tasks', readA);
    assert.equal(used(), first - 1, 'no write within the minute');
  });

  it('a stream sends only in-scope tasks', async () => {
    const dash = await startDashboard(h.options);
    try {
      const auth = { authorization: `Bearer ${readA}` };
      const pending = readSse(`${dash.url}/api/stream/tasks`, auth, (evs) => evs.some((e) => e.event === 'task'));
      await new Promise((r) => setTimeout(r, 150));
      // beta changes first, then alpha: the first card the stream carries must be alpha's.
      appendTaskEvent(db, taskB, 'text', { type: 'text', text: 'x' });
      h.feed.emit('task', taskB);
      h.feed.emit('task', taskA);
      const got = await pending;
      got.close();
      const ids = got.events.filter((e) => e.event === 'task').map((e) => (JSON.parse(e.data) as { id: number }).id);
      assert.deepEqual(ids, [taskA]);
    } finally {
      await dash.close();
    }
  });
});

describe('API tokens on an open dashboard (no auth_token)', () => {
  it('narrow what the bearer sees; never widen; anything else stays the open view', async () => {
    const { db, cleanup } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(db, makeConfig(['alpha', 'beta'])).options);
      const token = createApiToken(db, { name: 't', repos: ['beta'], rights: 'read' }, Date.now()).token;
      insertTask(db, { repoId: 'alpha' });
      insertTask(db, { repoId: 'beta' });
      const list = async (headers: Record<string, string>): Promise<string[]> =>
        ((await (await app.request(BASE + '/api/tasks', { headers })).json()) as { tasks: Array<{ repoId: string }> }).tasks.map((t) => t.repoId).sort();
      assert.deepEqual(await list({ authorization: `Bearer ${token}` }), ['beta']);
      assert.deepEqual(await list({}), ['alpha', 'beta']);
      assert.deepEqual(await list({ authorization: 'Bearer something-else' }), ['alpha', 'beta']);
    } finally {
      cleanup();
    }
  });

  it('a repository removed from the configuration drops out of the token', async () => {
    const { db, cleanup } = tempDb();
    try {
      const token = createApiToken(db, { name: 't', repos: ['alpha', 'gone'], rights: 'read' }, Date.now()).token;
      insertTask(db, { repoId: 'gone', subject: 'GONE-TASK' });
      const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'], { authToken: ADMIN })).options);
      const r = await app.request(BASE + '/api/tasks', { headers: { authorization: `Bearer ${token}` } });
      assert.deepEqual(((await r.json()) as { tasks: unknown[] }).tasks, []);
    } finally {
      cleanup();
    }
  });
});
