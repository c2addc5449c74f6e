import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isForbiddenUpstreamAddress } from '../../src/proxy/upstream-address.ts';

test('every spelling of a loopback, link-local, unspecified or multicast address is forbidden', () => {
  const forbidden = [
    '127.0.0.1', '127.255.0.9', '0.0.0.0', '0.1.2.3', '169.254.169.254', '224.0.0.1', '255.255.255.255',
    '::1', '0:0:0:0:0:0:0:1', '::', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe',
    '::127.0.0.1', '::7f00:1', 'fe80::1', 'FE80::abcd', 'fec0::1', 'ff02::1', 'not-an-address', '',
  ];
  for (const a of forbidden) assert.equal(isForbiddenUpstreamAddress(a), true, a);
});

test('public and private unicast addresses are allowed (internal services are a normal thing to allowlist)', () => {
  for (const a of ['8.8.8.8', '10.0.0.1', '192.168.1.10', '172.16.0.1', '100.64.0.1', '2001:db8::1', 'fc00::1', '::ffff:10.0.0.1']) {
    assert.equal(isForbiddenUpstreamAddress(a), false, a);
  }
});
