import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardRequest, parseHostHeader, pathProblem } from '../../src/proxy/request-guard.ts';

test('path tricks are refused', () => {
  const bad = [
    '/repos/ours/../theirs',
    '/repos/ours/%2e%2e/theirs',
    '/repos/ours/.%2E/theirs',
    '/a/./b',
    '/repos/ours%2f..%2ftheirs',
    '/repos/ours%2Ftheirs',
    '/a%5cb',
    '/a\\b',
    '/a%00b',
    '/a\0b',
    '/a b',
    '/a\tb',
    '/bad%zzenc',
    'relative',
  ];
  for (const p of bad) assert.ok(pathProblem(p), `should refuse ${JSON.stringify(p)}`);
  for (const p of ['/', '/repos/org/repo.git/info/refs', '/a/b%20c', '/v1/messages', '/a..b/c.d', '/%7Euser']) {
    assert.equal(pathProblem(p), null, `should accept ${p}`);
  }
});

test('Host header parsing', () => {
  assert.deepEqual(parseHostHeader('Example.COM', 80), { host: 'example.com', port: 80 });
  assert.deepEqual(parseHostHeader('example.com.:8443', 443), { host: 'example.com', port: 8443 });
  assert.deepEqual(parseHostHeader('[::1]:81', 80), { host: '::1', port: 81 });
  assert.deepEqual(parseHostHeader('10.0.0.1', 80), { host: '10.0.0.1', port: 80 });
  for (const bad of ['', 'a b', 'a/b', 'x:99999', 'x:0', 'user@host', 'a..b', '-a.test']) assert.equal(parseHostHeader(bad, 80), null, bad);
});

test('every name a request carries for its destination must agree', () => {
  const ok = guardRequest({ url: '/p?q=1', hostHeader: 'a.test', tunnelHost: 'a.test', defaultPort: 443, encrypted: true });
  assert.ok(ok.ok);
  if (ok.ok) assert.deepEqual(ok.target, { host: 'a.test', port: 443, path: '/p', pathAndQuery: '/p?q=1' });

  const sniMismatch = guardRequest({ url: '/p', hostHeader: 'b.test', tunnelHost: 'a.test', defaultPort: 443, encrypted: true });
  assert.ok(!sniMismatch.ok && /TLS server name/.test(sniMismatch.reason));

  const urlMismatch = guardRequest({ url: 'http://evil.test/x', hostHeader: 'allowed.test', tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(!urlMismatch.ok && /does not match the URL host/.test(urlMismatch.reason));

  const absolute = guardRequest({ url: 'http://a.test:8080/x?y', hostHeader: 'a.test:8080', tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(absolute.ok && absolute.target.port === 8080 && absolute.target.pathAndQuery === '/x?y');

  const userinfo = guardRequest({ url: 'http://allowed.test@evil.test/', hostHeader: 'evil.test', tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(!userinfo.ok);
  const noHost = guardRequest({ url: '/', hostHeader: undefined, tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(!noHost.ok && /no Host header/.test(noHost.reason));
  const ftp = guardRequest({ url: 'ftp://a.test/', hostHeader: 'a.test', tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(!ftp.ok);
});

test('an absolute https:// URL is refused on a plain connection (400, use CONNECT) and accepted inside TLS', () => {
  const plain = guardRequest({ url: 'https://a.test/x', hostHeader: 'a.test', tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(!plain.ok && plain.status === 400 && /CONNECT/.test(plain.reason));
  const plainUpper = guardRequest({ url: 'HTTPS://a.test/x', hostHeader: 'a.test', tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(!plainUpper.ok && plainUpper.status === 400);
  const inside = guardRequest({ url: 'https://a.test/x', hostHeader: 'a.test', tunnelHost: 'a.test', defaultPort: 443, encrypted: true });
  assert.ok(inside.ok && inside.target.port === 443);
  const plainHttp = guardRequest({ url: 'http://a.test/x', hostHeader: 'a.test', tunnelHost: null, defaultPort: 80, encrypted: false });
  assert.ok(plainHttp.ok);
});
