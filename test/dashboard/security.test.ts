/**
 * The dashboard's defences, over real HTTP against the real server: the Host check on every route,
 * the body limit, sessions (expiry, log out, a changed token) and the login throttle.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/server.ts';
import type { Db } from '../../src/store/database.ts';
import { makeConfig, makeOptions, rawRequest, tempDb, type RawResponse } from './helpers.ts';

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

/** The dashboard's clock, moved by the tests to make sessions and throttle windows pass. */
class TestClock {
  t = Date.now();
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

const cookieOf = (r: RawResponse): string => String(r.headers['set-cookie']?.[0] ?? '').split(';')[0]!;

async function login(url: string, token: string, localAddress?: string): Promise<RawResponse> {
  return rawRequest(url + '/login', {
    method: 'POST',
    headers: { ...FORM, origin: url },
    body: `token=${encodeURIComponent(token)}&next=%2F`,
    ...(localAddress ? { localAddress } : {}),
  });
}

async function statusWith(url: string, cookie: string, path = '/api/tasks'): Promise<number> {
  return (await rawRequest(url + path, { headers: { cookie, accept: 'application/json' } })).status;
}

describe('login sessions', () => {
  const TOKEN = 'session-token-0123456789abcdef0123456789abcdef';
  const IDLE_S = 3600;
  const LIFETIME_S = 4 * 3600;
  let db: Db;
  let cleanup: () => void;
  let dash: RunningDashboard;
  const clock = new TestClock();
  const start = (token: string) =>
    startDashboard({ ...makeOptions(db, makeConfig(['alpha'], { authToken: token, sessionIdleSeconds: IDLE_S, sessionLifetimeSeconds: LIFETIME_S })).options, now: clock.now });
  before(async () => {
    ({ db, cleanup } = tempDb());
    dash = await start(TOKEN);
  });
  after(async () => {
    await dash.close();
    cleanup();
  });

  it('log out ends the session on the server: a kept copy of the cookie opens nothing', async () => {
    const r = await login(dash.url, TOKEN);
    assert.equal(r.status, 303);
    const cookie = cookieOf(r);
    const copy = cookie;
    assert.equal(await statusWith(dash.url, cookie), 200);
    const page = await rawRequest(dash.url + '/', { headers: { cookie, accept: 'text/html' } });
    const csrf = /data-csrf="([^"]+)"/.exec(page.body)![1]!;
    const out = await rawRequest(dash.url + '/logout', { method: 'POST', headers: { ...FORM, cookie, origin: dash.url }, body: `csrf=${encodeURIComponent(csrf)}` });
    assert.equal(out.status, 303);
    assert.equal(await statusWith(dash.url, copy), 401, 'the cookie from before log out');
    assert.equal(await statusWith(dash.url, copy, '/'), 401);
  });

  it('ends a session left unused for session_idle_timeout', async () => {
    const cookie = cookieOf(await login(dash.url, TOKEN));
    clock.advance((IDLE_S - 60) * 1000);
    assert.equal(await statusWith(dash.url, cookie), 200, 'used just before the idle timeout');
    clock.advance((IDLE_S - 60) * 1000);
    assert.equal(await statusWith(dash.url, cookie), 200, 'the use above restarted the idle clock');
    clock.advance(IDLE_S * 1000);
    assert.equal(await statusWith(dash.url, cookie), 401, 'idle for the whole timeout');
    clock.advance(-IDLE_S * 1000);
    assert.equal(await statusWith(dash.url, cookie), 401, 'an ended session is gone, not just asleep');
  });

  it('ends a session session_lifetime after the login, however much it is used', async () => {
    const r = await login(dash.url, TOKEN);
    assert.match(String(r.headers['set-cookie']?.[0]), new RegExp(`Max-Age=${LIFETIME_S}`), 'the browser drops it then too');
    const cookie = cookieOf(r);
    const loggedInAt = clock.t;
    while (clock.t - loggedInAt < LIFETIME_S * 1000 - 1800_000) {
      clock.advance(1800_000);
      assert.equal(await statusWith(dash.url, cookie), 200, `${(clock.t - loggedInAt) / 3600_000} h after login`);
    }
    clock.advance(1800_000);
    assert.equal(await statusWith(dash.url, cookie), 401, 'at the lifetime');
  });

  it('keeps only a keyed hash of a random id; survives a restart; a new token ends every session', async () => {
    const a = cookieOf(await login(dash.url, TOKEN));
    const b = cookieOf(await login(dash.url, TOKEN));
    assert.notEqual(a, b, 'each login gets its own session');
    const id = a.slice(a.indexOf('=') + 1);
    assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!id.includes(TOKEN) && !TOKEN.includes(id));
    const stored = JSON.stringify(db.prepare('SELECT * FROM dashboard_sessions').all());
    assert.ok(!stored.includes(id), 'the database holds no usable cookie');

    await dash.close();
    dash = await start(TOKEN);
    assert.equal(await statusWith(dash.url, a), 200, 'a restart keeps the session');

    await dash.close();
    dash = await start('another-token-after-a-leak-0123456789abcdef');
    assert.equal(await statusWith(dash.url, a), 401, 'a changed token ends it');
    assert.equal(await statusWith(dash.url, b), 401);
    await dash.close();
    dash = await start(TOKEN);
  });
});

describe('login throttle', () => {
  const TOKEN = 'throttle-token-0123456789abcdef0123456789abcdef';
  let db: Db;
  let cleanup: () => void;
  let dash: RunningDashboard;
  const clock = new TestClock();
  before(async () => {
    ({ db, cleanup } = tempDb());
    dash = await startDashboard({ ...makeOptions(db, makeConfig(['alpha'], { authToken: TOKEN })).options, now: clock.now });
  });
  after(async () => {
    await dash.close();
    cleanup();
  });

  it('refuses further tries from an address after repeated wrong tokens, right or wrong, for a growing time', async () => {
    const attacker = '127.0.0.1';
    for (let i = 1; i <= 5; i++) assert.equal((await login(dash.url, `wrong-${i}`, attacker)).status, 401, `wrong token ${i}`);
    const refused = await login(dash.url, 'wrong-6', attacker);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.match(refused.body, /Too many wrong tokens/);
    assert.equal((await login(dash.url, TOKEN, attacker)).status, 429, 'the right token is not even compared');
    const bearer = await rawRequest(dash.url + '/api/tasks', { headers: { authorization: `Bearer ${TOKEN}` }, localAddress: attacker });
    assert.equal(bearer.status, 429, 'nor through the Bearer header');
    const health = await rawRequest(dash.url + '/health', { headers: { authorization: 'Bearer guess' }, localAddress: attacker });
    assert.equal(health.status, 429, 'nor on the public /health');

    assert.equal((await login(dash.url, TOKEN, '127.0.0.2')).status, 303, 'another address is not affected');

    clock.advance(1000);
    assert.equal((await login(dash.url, 'wrong-7', attacker)).status, 401, 'after the wait, one more try');
    const longer = await login(dash.url, 'wrong-8', attacker);
    assert.equal(longer.status, 429);
    assert.equal(longer.headers['retry-after'], '2', 'the wait doubles');
    clock.advance(2000);
    assert.equal((await login(dash.url, TOKEN, attacker)).status, 303, 'the right token after the wait');
    assert.equal((await login(dash.url, 'typo', attacker)).status, 401, 'a success clears the address');
  });

  it('counts wrong Bearer tokens as failed logins', async () => {
    const client = '127.0.0.3';
    for (let i = 1; i <= 5; i++) {
      const r = await rawRequest(dash.url + '/api/tasks', { headers: { authorization: `Bearer wrong-${i}` }, localAddress: client });
      assert.equal(r.status, 401);
    }
    assert.equal((await rawRequest(dash.url + '/api/tasks', { headers: { authorization: `Bearer ${TOKEN}` }, localAddress: client })).status, 429);
  });
});
