/**
 * The conversation proxy in-process, with real HTTP and HTTPS upstream servers and real clients
 * talking to its Unix sockets the way the sidecar forwards container traffic. The podman side
 * (the container really has no other way out) is in test/e2e/network-sandbox.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { parseAllowlist } from '../../src/proxy/allowlist.ts';
import { CertificateAuthority, ensureCaFiles } from '../../src/proxy/certificate-authority.ts';
import { ConversationProxy, PROXY_SOCKETS, type NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';
import { buildMaskRules } from '../../src/proxy/masked-secrets.ts';
import { createTestTls } from '../harness/test-tls.ts';

interface Seen {
  host: string;
  method: string;
  url: string;
  authorization?: string;
}

const REAL_TOKEN = 'ghp_RealTokenValue0123456789';
const seen: Seen[] = [];
let dir: string;
let ca: CertificateAuthority;
let proxy: ConversationProxy;
let plainUpstream: http.Server;
let tlsUpstream: https.Server;
/** Accepts WebSocket upgrades (101) and echoes what it gets afterwards. */
let wsUpstream: http.Server;
/** Answers with a broken status line, chosen by the request path. */
let badUpstream: net.Server;
/** Listens on every loopback address; no request of a sandboxed client may ever reach it. */
let loopbackCanary: net.Server;
let loopbackHits = 0;
let canaryPort: number;
let surrogate: string;
const log: NetworkLogEntry[] = [];

function record(req: http.IncomingMessage, res: http.ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ host: String(req.headers.host), method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://elsewhere.test/' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
    res.end(`upstream ${req.method} ${req.headers.host}${req.url} body=${body}`);
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-proxy-'));
  ca = CertificateAuthority.load(ensureCaFiles(path.join(dir, 'ca')));
  const upstreamTls = createTestTls();
  plainUpstream = http.createServer(record);
  tlsUpstream = https.createServer(upstreamTls.serverOptions('secure.test'), record);
  await new Promise<void>((r) => plainUpstream.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => tlsUpstream.listen(0, '127.0.0.1', () => r()));
  wsUpstream = http.createServer((_req, res) => res.end('not a websocket request'));
  wsUpstream.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push({ host: String(req.headers.host), method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => wsUpstream.listen(0, '127.0.0.1', () => r()));
  badUpstream = net.createServer((c) => {
    c.on('error', () => c.destroy());
    c.once('data', (d: Buffer) => {
      const line = d.toString('latin1').includes(' /code') ? 'HTTP/1.1 099 Early' : 'HTTP/1.1 200 O\x01K';
      c.end(`${line}\r\nContent-Length: 2\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhi`);
    });
  });
  await new Promise<void>((r) => badUpstream.listen(0, '127.0.0.1', () => r()));
  loopbackCanary = net.createServer((c) => {
    loopbackHits++;
    c.on('error', () => c.destroy());
    c.end('HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nLOOPBACK-HIT');
  });
  // `::` with dual stack: 127.0.0.1, ::1 and every other local address.
  await new Promise<void>((r) => loopbackCanary.listen(0, '::', () => r()));
  canaryPort = (loopbackCanary.address() as net.AddressInfo).port;
  const plainPort = (plainUpstream.address() as net.AddressInfo).port;
  const tlsPort = (tlsUpstream.address() as net.AddressInfo).port;
  const masks = buildMaskRules({ GH_TOKEN: { value: REAL_TOKEN, scopes: ['secure.test', 'plain.test'], headers: ['Authorization'], allowForeignCredentials: false } });
  surrogate = masks[0]!.surrogate;
  proxy = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock'),
    allowlist: parseAllowlist(`
domains: [allowed.test, plain.test, ws.test, bad.test]
url_prefixes:
  - host: secure.test
    path: /api/*
    methods: [GET]
`),
    masks,
    ca,
    upstreamOverrides: {
      'allowed.test': { host: '127.0.0.1', port: plainPort },
      'other.test': { host: '127.0.0.1', port: plainPort },
      'secure.test': { host: '127.0.0.1', port: tlsPort },
      'plain.test': { host: '127.0.0.1', port: plainPort },
      'ws.test': { host: '127.0.0.1', port: (wsUpstream.address() as net.AddressInfo).port },
      'bad.test': { host: '127.0.0.1', port: (badUpstream.address() as net.AddressInfo).port },
    },
    upstreamCa: [upstreamTls.caPem],
    onRequest: (e) => log.push(e),
  });
});

after(async () => {
  await proxy?.close();
  for (const server of [plainUpstream, tlsUpstream, wsUpstream, badUpstream, loopbackCanary]) server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sock = (name: keyof typeof PROXY_SOCKETS) => path.join(dir, 'sock', PROXY_SOCKETS[name]);

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function collect(req: http.ClientRequest, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Plain HTTP the way a container sends it to port 80 after DNS pointed the name at the sidecar. */
function transparentHttp(host: string, urlPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return collect(http.request({ socketPath: sock('http'), method: opts.method ?? 'GET', path: urlPath, headers: { host, ...opts.headers }, agent: false }));
}

/** TLS to port 443: SNI names the host; the client checks the certificate against the daemon's CA. */
function transparentHttps(sni: string, urlPath: string, opts: { method?: string; host?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return collect(
    https.request({
      socketPath: sock('tls'),
      servername: sni,
      ca: ca.certificatePem,
      method: opts.method ?? 'GET',
      path: urlPath,
      headers: { host: opts.host ?? sni, ...opts.headers },
      agent: false,
    } as https.RequestOptions),
  );
}

/** HTTPS_PROXY style: CONNECT, then TLS inside the tunnel. */
async function viaConnect(target: string, host: string, urlPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const req = http.request({ socketPath: sock('explicit'), method: 'CONNECT', path: target, agent: false });
    req.on('connect', (res, s) => (res.statusCode === 200 ? resolve(s) : reject(new Error(`CONNECT ${res.statusCode}`))));
    req.on('error', reject);
    req.end();
  });
  const secure = tls.connect({ socket, servername: host, ca: ca.certificatePem });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', () => resolve());
    secure.once('error', reject);
  });
  return collect(http.request({ createConnection: () => secure, path: urlPath, headers: { host, ...headers } } as http.RequestOptions));
}

test('an allowed domain goes through, with the log saying which rule', async () => {
  const r = await transparentHttp('allowed.test', '/hello?x=1');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'upstream GET allowed.test/hello?x=1 body=');
  const entry = log.find((e) => e.path === '/hello')!;
  assert.equal(entry.allowed, true);
  assert.match(entry.rule, /domains\[0\]: allowed\.test/);
  assert.equal(entry.status, 200);
  assert.equal(entry.host, 'allowed.test');
});

test('HTTPS is terminated with a certificate the container trusts; prefix and method are checked inside TLS', async () => {
  const ok = await transparentHttps('secure.test', '/api/items');
  assert.equal(ok.status, 200);
  assert.match(ok.body, /upstream GET secure\.test\/api\/items/);

  const wrongPath = await transparentHttps('secure.test', '/admin');
  assert.equal(wrongPath.status, 403);
  assert.match(wrongPath.body, /path \/admin is not allowed on secure\.test/);
  assert.match(wrongPath.body, /\.airut\/network-allowlist\.yaml/);

  const wrongMethod = await transparentHttps('secure.test', '/api/items', { method: 'POST' });
  assert.equal(wrongMethod.status, 403);
  assert.match(wrongMethod.body, /method POST is not allowed/);
  assert.equal(wrongMethod.headers['x-airut-blocked'], '1');
});

test('the same checks apply through CONNECT (HTTPS_PROXY clients)', async () => {
  const ok = await viaConnect('secure.test:443', 'secure.test', '/api/x');
  assert.equal(ok.status, 200);
  const blocked = await viaConnect('secure.test:443', 'secure.test', '/private');
  assert.equal(blocked.status, 403);
  const otherHost = await viaConnect('evil.test:443', 'evil.test', '/');
  assert.equal(otherHost.status, 403);
  assert.match(otherHost.body, /host evil\.test is not in the allowlist/);
});

test('a host not on the list gets a 403 that says which file to change', async () => {
  const before = seen.length;
  const r = await transparentHttp('other.test', '/steal');
  assert.equal(r.status, 403);
  assert.match(r.body, /Blocked by the airut network sandbox: host other\.test is not in the allowlist/);
  assert.match(r.body, /url_prefixes:\n  - host: other\.test/);
  assert.match(r.body, /merged into the default branch/);
  assert.equal(seen.length, before, 'nothing reached the upstream');
});

test('forged Host headers are refused: against the URL, and against the TLS name', async () => {
  const before = seen.length;
  const explicit = await collect(
    http.request({ socketPath: sock('explicit'), path: 'http://other.test/x', headers: { host: 'allowed.test' }, agent: false }),
  );
  assert.equal(explicit.status, 403);
  assert.match(explicit.body, /does not match the URL host/);
  const sni = await transparentHttps('secure.test', '/api/x', { host: 'other.test' });
  assert.equal(sni.status, 403);
  assert.match(sni.body, /does not match the TLS server name/);
  assert.equal(seen.length, before);
});

test('path tricks are refused before the allowlist sees them', async () => {
  for (const p of ['/api/../admin', '/api/%2e%2e/admin', '/api%2f..%2fadmin', '/api/x%00', '/api/a\\b']) {
    const r = await transparentHttps('secure.test', p);
    assert.equal(r.status, 403, p);
    assert.match(r.body, /refused/, p);
  }
});

test('masked secrets: the real value only in the named header of an in-scope host', async () => {
  await transparentHttps('secure.test', '/api/token', { headers: { authorization: `Bearer ${surrogate}`, 'x-copy': surrogate } });
  const inScope = seen.find((s) => s.url === '/api/token')!;
  assert.equal(inScope.authorization, `Bearer ${REAL_TOKEN}`);
  await transparentHttp('allowed.test', '/token', { headers: { authorization: `Bearer ${surrogate}` } });
  const outOfScope = seen.find((s) => s.url === '/token')!;
  assert.equal(outOfScope.authorization, `Bearer ${surrogate}`, 'the surrogate goes out unchanged elsewhere');
  assert.equal(log.find((e) => e.path === '/api/token')!.masked, 1);
  assert.equal(log.find((e) => e.path === '/token')!.masked, 0);
});

test('an allowlisted name that resolves to loopback is not connected to', async () => {
  // `localhost` resolves to loopback on every machine: a stand-in for a public name someone points
  // at 127.0.0.1 to reach the daemon's own services.
  const p2 = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock2'),
    allowlist: parseAllowlist('domains: [localhost]'),
    masks: [],
    ca,
    onRequest: (e) => log.push(e),
  });
  try {
    const r = await collect(http.request({ socketPath: path.join(dir, 'sock2', PROXY_SOCKETS.http), path: '/', headers: { host: 'localhost' }, agent: false }));
    assert.equal(r.status, 502);
    assert.match(r.body, /local or link-local addresses/);
  } finally {
    await p2.close();
  }
});

test('redirects are passed back to the client, not followed', async () => {
  const r = await transparentHttp('allowed.test', '/redirect');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://elsewhere.test/');
});

test('request bodies are streamed upstream', async () => {
  const r = await collect(
    http.request({ socketPath: sock('http'), method: 'POST', path: '/post', headers: { host: 'allowed.test', 'content-type': 'text/plain' }, agent: false }),
    'x'.repeat(100_000),
  );
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 'upstream POST allowed.test/post body='.length + 100_000);
});

test('close() cuts open connections and removes the sockets', async () => {
  const p3 = await ConversationProxy.start({ socketDir: path.join(dir, 'sock3'), allowlist: parseAllowlist(''), masks: [], ca, onRequest: () => undefined });
  const idle = net.connect(path.join(dir, 'sock3', PROXY_SOCKETS.http));
  await new Promise<void>((r) => idle.once('connect', () => r()));
  const closed = new Promise<void>((r) => idle.once('close', () => r()));
  await p3.close();
  await closed;
  for (const f of Object.values(PROXY_SOCKETS)) assert.equal(fs.existsSync(path.join(dir, 'sock3', f)), false);
});

// --- Issue 13: attacks on the proxy ------------------------------------------------------------

/** Everything received on `socket` after sending `bytes`, until the proxy closes it or `waitMs` passes. */
function rawExchange(socket: net.Socket, bytes: string, waitMs = 2_000): Promise<{ text: string; closedByProxy: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByProxy: false });
    }, waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ text, closedByProxy: true });
    });
    socket.write(bytes);
  });
}

function connected<T extends net.Socket>(socket: T, event: 'connect' | 'secureConnect'): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A TLS connection the way HTTPS_PROXY clients open one: CONNECT, then TLS in the tunnel. */
async function connectTunnel(target: string, servername: string): Promise<tls.TLSSocket> {
  const raw = await connected(net.connect(sock('explicit')), 'connect');
  await new Promise<void>((resolve, reject) => {
    raw.once('data', (d: Buffer) => (/^HTTP\/1\.1 200 /.test(d.toString()) ? resolve() : reject(new Error(d.toString()))));
    raw.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
  return connected(tls.connect({ socket: raw, servername, ca: ca.certificatePem }), 'secureConnect');
}

function upgradeRequest(host: string, urlPath: string, extra = 'Connection: Upgrade\r\nUpgrade: websocket\r\n'): string {
  return `GET ${urlPath} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
}

const statusLines = (text: string) => text.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];

test('an upgrade the server ignores: one answer, both connections closed, nothing pipelined behind it reaches the upstream', async () => {
  const smuggled = [
    'GET /smuggled-other-host HTTP/1.1\r\nHost: other.test\r\n\r\n',
    `GET /smuggled-secret HTTP/1.1\r\nHost: plain.test\r\nAuthorization: Bearer ${surrogate}\r\n\r\n`,
  ].join('');
  const plain = await rawExchange(await connected(net.connect(sock('http')), 'connect'), upgradeRequest('allowed.test', '/ws-plain') + smuggled);
  assert.deepEqual(statusLines(plain.text), ['HTTP/1.1 200'], plain.text);
  assert.match(plain.text, /upstream GET allowed\.test\/ws-plain/);
  assert.ok(plain.closedByProxy, 'the proxy closed the connection after the one answer');

  // h2c asks for the same switch with other headers.
  const h2c = await rawExchange(
    await connected(net.connect(sock('http')), 'connect'),
    upgradeRequest('allowed.test', '/h2c', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n') +
      'GET /smuggled-h2c HTTP/1.1\r\nHost: other.test\r\n\r\n',
  );
  assert.deepEqual(statusLines(h2c.text), ['HTTP/1.1 200'], h2c.text);
  assert.ok(h2c.closedByProxy);

  // Inside TLS the proxy terminated (port 443), and inside a CONNECT tunnel.
  const terminated = tls.connect({ path: sock('tls'), servername: 'secure.test', ca: ca.certificatePem } as tls.ConnectionOptions);
  const tlsAnswer = await rawExchange(
    await connected(terminated, 'secureConnect'),
    upgradeRequest('secure.test', '/api/ws-tls') + `GET /private-tls HTTP/1.1\r\nHost: secure.test\r\nAuthorization: Bearer ${surrogate}\r\n\r\n`,
  );
  assert.deepEqual(statusLines(tlsAnswer.text), ['HTTP/1.1 200'], tlsAnswer.text);
  assert.ok(tlsAnswer.closedByProxy);
  const tunnelAnswer = await rawExchange(
    await connectTunnel('secure.test:443', 'secure.test'),
    upgradeRequest('secure.test', '/api/ws-connect') + 'POST /api/smuggled-post HTTP/1.1\r\nHost: secure.test\r\nContent-Length: 1\r\n\r\nx',
  );
  assert.deepEqual(statusLines(tunnelAnswer.text), ['HTTP/1.1 200'], tunnelAnswer.text);
  assert.ok(tunnelAnswer.closedByProxy);

  for (const url of ['/ws-plain', '/h2c', '/api/ws-tls', '/api/ws-connect']) assert.ok(seen.some((s) => s.url === url), `${url} went upstream`);
  const leaked = seen.filter((s) => /smuggled|private-tls/.test(s.url));
  assert.deepEqual(leaked, [], 'no pipelined request reached an upstream');
  assert.ok(!seen.some((s) => s.authorization?.includes(REAL_TOKEN) && /smuggled|private/.test(s.url)));
  assert.equal(log.find((e) => e.path === '/ws-plain')?.status, 200);
});

test('an upgrade the server accepts: 101, then the bytes sent early and later flow both ways', async () => {
  const socket = await connected(net.connect(sock('http')), 'connect');
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('early') && !text.includes('later')) socket.write('later');
      if (text.includes('later')) resolve(text);
    });
    socket.write(upgradeRequest('ws.test', '/socket') + 'early');
  });
  socket.destroy();
  assert.match(answer, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(answer, /\r\n\r\nearlylater$/);
  assert.equal(log.find((e) => e.path === '/socket')?.status, 101);
});

test('a masked secret is never swapped into a request that leaves over plain HTTP', async () => {
  const r = await transparentHttp('plain.test', '/plain-secret', { headers: { authorization: `Bearer ${surrogate}` } });
  assert.equal(r.status, 200);
  assert.equal(seen.find((s) => s.url === '/plain-secret')?.authorization, `Bearer ${surrogate}`, 'the surrogate, not the real value');
  assert.equal(log.find((e) => e.path === '/plain-secret')?.masked, 0);
  assert.ok(!seen.some((s) => s.authorization?.includes(REAL_TOKEN) && s.url.startsWith('/plain')));
});

test('an absolute https:// URL outside CONNECT is refused with a 400 that says to use CONNECT', async () => {
  for (const host of ['plain.test', 'secure.test']) {
    const r = await collect(
      http.request({ socketPath: sock('explicit'), path: `https://${host}/api/abs-secret`, headers: { host, authorization: `Bearer ${surrogate}` }, agent: false }),
    );
    assert.equal(r.status, 400, host);
    assert.match(r.body, /https:\/\/ URL was sent to the proxy in plain text/);
    assert.match(r.body, /CONNECT/);
  }
  assert.ok(!seen.some((s) => s.url === '/api/abs-secret'), 'nothing went upstream');
  assert.equal(log.filter((e) => e.path === '/api/abs-secret' && e.status === 400 && !e.allowed).length, 2);
});

test('a malformed upstream status line becomes a 502 and a log row; the proxy goes on', async () => {
  for (const urlPath of ['/reason', '/code']) {
    const r = await transparentHttp('bad.test', urlPath);
    assert.equal(r.status, 502, urlPath);
    assert.match(r.body, /malformed response/);
    const entry = log.find((e) => e.host === 'bad.test' && e.path === urlPath)!;
    assert.equal(entry.status, 502);
    assert.match(entry.error ?? '', /malformed response/);
  }
  const upgraded = await rawExchange(await connected(net.connect(sock('http')), 'connect'), upgradeRequest('bad.test', '/reason-upgrade'));
  assert.deepEqual(statusLines(upgraded.text), ['HTTP/1.1 502']);
  assert.equal(log.find((e) => e.path === '/reason-upgrade')?.status, 502);
  const after = await transparentHttp('allowed.test', '/still-working');
  assert.equal(after.status, 200);
});

test('IP literals are checked like resolved names: loopback, link-local and unspecified are never connected to', async () => {
  const p4 = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock4'),
    // A wildcard allowlist entry matches addresses as well as names.
    allowlist: parseAllowlist('domains: ["*"]'),
    masks: [],
    ca,
    onRequest: (e) => log.push(e),
    upstreamTimeoutMs: 3_000,
  });
  try {
    const hosts = ['127.0.0.1', '127.9.9.9', '0.0.0.0', '[::1]', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '169.254.169.254', '[fe80::1]'];
    const before = loopbackHits;
    for (const host of hosts) {
      const hostPort = `${host}:${canaryPort}`;
      const viaProxy = await collect(
        http.request({ socketPath: path.join(dir, 'sock4', PROXY_SOCKETS.explicit), path: `http://${hostPort}/literal`, headers: { host: hostPort }, agent: false }),
      );
      assert.equal(viaProxy.status, 502, `${host} via HTTP_PROXY: ${viaProxy.body}`);
      assert.match(viaProxy.body, /local or link-local addresses/, host);
      const transparent = await collect(
        http.request({ socketPath: path.join(dir, 'sock4', PROXY_SOCKETS.http), path: '/literal', headers: { host: hostPort }, agent: false }),
      );
      assert.equal(transparent.status, 502, `${host} on port 80: ${transparent.body}`);
      const upgrade = await rawExchange(await connected(net.connect(path.join(dir, 'sock4', PROXY_SOCKETS.http)), 'connect'), upgradeRequest(hostPort, '/literal-upgrade'));
      assert.deepEqual(statusLines(upgrade.text), ['HTTP/1.1 502'], `${host} upgrade: ${upgrade.text}`);
    }
    assert.equal(loopbackHits, before, 'nothing reached the loopback listener');
  } finally {
    await p4.close();
  }
});

test('clients that hang up at once, on every path, never throw inside the proxy', async () => {
  const crashes: Error[] = [];
  const onCrash = (err: Error) => crashes.push(err);
  process.on('uncaughtException', onCrash);
  try {
    const requests: Array<[keyof typeof PROXY_SOCKETS, string]> = [
      ['http', upgradeRequest('other.test', '/blocked-upgrade')],
      ['http', upgradeRequest('allowed.test', '/allowed-upgrade')],
      ['http', 'GET /x HTTP/1.1\r\nHost: other.test\r\n\r\n'],
      ['explicit', 'CONNECT secure.test:443 HTTP/1.1\r\nHost: secure.test:443\r\n\r\n'],
      ['explicit', 'CONNECT bad target HTTP/1.1\r\nHost: x\r\n\r\n'],
      ['explicit', upgradeRequest('other.test', '/blocked-upgrade-explicit')],
    ];
    for (let round = 0; round < 10; round++) {
      for (const [name, bytes] of requests) {
        const socket = await connected(net.connect(sock(name)), 'connect');
        socket.on('error', () => undefined);
        socket.end(bytes);
        socket.destroy();
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    const after = await transparentHttp('allowed.test', '/after-hangups');
    assert.equal(after.status, 200);
  } finally {
    process.off('uncaughtException', onCrash);
  }
  assert.deepEqual(crashes.map((e) => e.message), []);
});
