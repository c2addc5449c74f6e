/** `dashboard.hosts`: each host name sees only its repositories; unknown names see nothing. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import { HostRouting } from '../../src/dashboard/host-scope.ts';
import { createApiToken } from '../../src/store/api-tokens.ts';
import type { Db } from '../../src/store/database.ts';
import { insertTask, makeConfig, makeOptions, tempDb } from './helpers.ts';

const ADMIN = 'admin-token-0123456789abcdef0123456789';
const HOSTS = { 'team-a.example.com': ['alpha'], 'team-b.example.com': ['beta', 'gamma'] };

describe('HostRouting.view', () => {
  const r = new HostRouting(HOSTS, 'dash.example.com');
  const cases: Array<[string | undefined, string]> = [
    ['team-a.example.com', 'alpha'],
    ['TEAM-A.example.com:5200', 'alpha'],
    ['team-b.example.com', 'beta,gamma'],
    ['dash.example.com', 'full'],
    ['localhost:5200', 'full'],
    ['127.0.0.1', 'full'],
    ['[::1]:5200', 'full'],
    [undefined, 'full'],
    ['other.example.com', 'unknown'],
    ['10.0.0.5', 'unknown'],
    ['bad host', 'unknown'],
  ];
  for (const [host, want] of cases) {
    it(`${host ?? '(no Host)'} → ${want}`, () => {
      const v = r.view(host);
      assert.equal(v.kind === 'repos' ? [...v.repos].join(',') : v.kind, want);
    });
  }
  it('without dashboard.hosts every name has the full view', () => {
    assert.equal(new HostRouting(null, null).view('other.example.com').kind, 'full');
  });
});

describe('host routing on the dashboard', () => {
  let db: Db;
  let cleanup: () => void;
  let tokenAB: string;
  before(() => {
    ({ db, cleanup } = tempDb());
    for (const repoId of ['alpha', 'beta', 'gamma']) insertTask(db, { repoId, subject: `${repoId.toUpperCase()}-TASK` });
    tokenAB = createApiToken(db, { name: 'ab', repos: ['alpha', 'beta'], rights: 'read' }, Date.now()).token;
  });
  after(() => cleanup());

  const repoIdsOf = async (app: ReturnType<typeof createDashboardApp>, host: string, token: string | null): Promise<string[]> => {
    const headers: Record<string, string> = { host, accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await app.request('http://x/api/tasks', { headers });
    assert.equal(r.status, 200, host);
    return [...new Set(((await r.json()) as { tasks: Array<{ repoId: string }> }).tasks.map((t) => t.repoId))].sort();
  };

  for (const authToken of [ADMIN, null]) {
    it(`serves each host only its repositories (auth_token ${authToken ? 'set' : 'not set'})`, async () => {
      const app = createDashboardApp(makeOptions(db, makeConfig(['alpha', 'beta', 'gamma'], { authToken, baseUrl: 'https://dash.example.com', hosts: HOSTS })).options);
      const admin = authToken;
      assert.deepEqual(await repoIdsOf(app, 'team-a.example.com', admin), ['alpha']);
      assert.deepEqual(await repoIdsOf(app, 'team-b.example.com:443', admin), ['beta', 'gamma']);
      assert.deepEqual(await repoIdsOf(app, 'dash.example.com', admin), ['alpha', 'beta', 'gamma']);
      assert.deepEqual(await repoIdsOf(app, 'localhost:5200', admin), ['alpha', 'beta', 'gamma']);
      // With a token: the intersection of the token's and the host's repositories.
      assert.deepEqual(await repoIdsOf(app, 'team-b.example.com', tokenAB), ['beta']);
      assert.deepEqual(await repoIdsOf(app, 'dash.example.com', tokenAB), ['alpha', 'beta']);

      const headers = (host: string, accept: string): Record<string, string> => ({ host, accept, ...(admin ? { authorization: `Bearer ${admin}` } : {}) });
      const gammaTask = (db.prepare("SELECT id FROM tasks WHERE repo_id = 'gamma'").get() as { id: number }).id;
      assert.equal((await app.request(`http://x/api/tasks/${gammaTask}`, { headers: headers('team-a.example.com', 'application/json') })).status, 404);
      assert.equal((await app.request(`http://x/metrics`, { headers: headers('team-a.example.com', 'text/plain') })).status, 404, 'a team host is not the whole view');
      for (const path of ['/', '/api/tasks', '/repos', '/api/stream/tasks', '/health', `/tasks/${gammaTask}`]) {
        const r = await app.request(`http://x${path}`, { headers: headers('other.example.com', 'application/json') });
        // An open dashboard refuses a Host that is not its own even earlier (421, the DNS-rebinding guard).
        assert.equal(r.status, authToken ? 404 : 421, `unknown host: ${path}`);
        assert.ok(!/TASK/.test(await r.text()));
      }
      if (authToken) assert.equal((await app.request('http://x/static/app.css', { headers: headers('other.example.com', 'text/css') })).status, 200);
    });
  }
});
