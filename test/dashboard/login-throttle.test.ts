import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientKey, DEFAULT_THROTTLE, LoginThrottle } from '../../src/dashboard/login-throttle.ts';

describe('LoginThrottle', () => {
  it('keeps at most maxClients addresses however many fail, dropping the stalest first', () => {
    let t = 0;
    const throttle = new LoginThrottle(() => t);
    for (let i = 0; i < 5; i++) throttle.failed('192.0.2.1');
    for (let i = 0; i < 50_000; i++) {
      t += 1;
      throttle.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    }
    assert.equal(throttle.size, DEFAULT_THROTTLE.maxClients);
    assert.equal(throttle.retryAfterMs('192.0.2.1'), 0, 'the oldest entry went first');
    t += 1;
    for (let i = 0; i < 6; i++) throttle.failed('192.0.2.9');
    assert.ok(throttle.retryAfterMs('192.0.2.9') > 0, 'a fresh attacker is still slowed');
  });

  it('forgets an address an hour after its last failure, and caps the wait at 15 minutes', () => {
    let t = 0;
    const throttle = new LoginThrottle(() => t);
    for (let i = 0; i < 40; i++) throttle.failed('192.0.2.1');
    assert.equal(throttle.retryAfterMs('192.0.2.1'), 15 * 60_000);
    t += 60 * 60_000 + 1;
    throttle.failed('192.0.2.1');
    assert.equal(throttle.retryAfterMs('192.0.2.1'), 0, 'counting starts again');
  });

  it('keys IPv4 (also IPv4-mapped) by address and IPv6 by /64', () => {
    assert.equal(clientKey('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
  });
});
