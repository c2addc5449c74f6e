/**
 * The dashboard's defences, over real HTTP against the real server: the Host check on every route,
 * the body limit, sessions (expiry, logout, a changed token) and the login throttle.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { makeConfig, makeOptions, rawRequest, tempDb } from './helpers.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

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

describe('request body limit', () => {
  let db: Db;
  let cleanup: () => void;
  let dash: RunningDashboard;
  const TOKEN = 'body-limit-token-0123456789abcdef0123456789';
  before(async () => {
    ({ db, cleanup } = tempDb());
    dash = await startDashboard(makeOptions(db, makeConfig(['alpha'], { authToken: TOKEN })).options);
  });
  after(async () => {
    await dash.close();
    cleanup();
  });

  it('answers 413 to a large POST /login or /logout, by Content-Length or chunked, before any other check', async () => {
    const big = `token=${'a'.repeat(1024 * 1024)}`;
    for (const path of ['/login', '/logout']) {
      for (const chunked of [false, true]) {
        const r = await rawRequest(dash.url + path, { method: 'POST', headers: { ...FORM, origin: dash.url }, body: big, chunked });
        assert.equal(r.status, 413, `${path} ${chunked ? 'chunked' : 'with Content-Length'}: ${r.body.slice(0, 100)}`);
        assert.match(r.body, /too large.*4096 bytes/);
      }
    }
  });

  it('still takes a normal login form', async () => {
    const r = await rawRequest(dash.url + '/login', { method: 'POST', headers: { ...FORM, origin: dash.url }, body: `token=${TOKEN}&next=%2Frepos` });
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/repos');
  });
});
