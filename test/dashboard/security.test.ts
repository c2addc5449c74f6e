/**
 * The dashboard's defences, over real HTTP against the real server: the Host check on every route,
 * and what follows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { makeConfig, makeOptions, rawRequest, tempDb } from './helpers.ts';



describe('Host check (DNS rebinding) without a token', () => {
  let db: Db;
  let cleanup: () => void;
  let dash: RunningDashboard;
  before(async () => {
    ({ db, cleanup } = tempDb());
    dash = await startDashboard(makeOptions(db, makeConfig(['alpha'])).options);
  });
  after(async () => {
    await dash.close();
    cleanup();
  });

  it('refuses a foreign Host on /health and /metrics like on every other route', async () => {
    for (const path of ['/health', '/metrics', '/', '/api/tasks', '/repos']) {
      const evil = await rawRequest(dash.url + path, { headers: { host: 'rebind.evil.example', accept: 'application/json' } });
      assert.equal(evil.status, 421, `${path} with a foreign Host`);
      assert.ok(!evil.body.includes('alpha'), `${path} leaks nothing`);
      const own = await rawRequest(dash.url + path, { headers: { accept: 'application/json' } });
      assert.ok(own.status === 200 || own.status === 503, `${path} on its own address: ${own.status}`);
    }
  });
});
