/**
 * Issue 13, items 1–4, end to end: the real daemon, real podman and Docker (once per runtime, see
 * test/harness/runtimes.ts), the real Claude Code CLI (which
 * reaches the mock Anthropic API through the sandbox proxy over HTTPS). The agent runs a probe
 * script inside the task container that attacks the proxy with busybox `nc` and `wget`:
 *
 *   1. an upgrade request the upstream ignores, with requests pipelined behind it (other path,
 *      other method, other Host), on port 80 and on the proxy port;
 *   2. IP literals (127.0.0.1:<dashboard port>, [::1], [::ffff:7f00:1], 169.254.169.254) under
 *      wildcard allowlist entries, and a host named `constructor`;
 *   3. a masked secret sent over plain HTTP, and inside an absolute https:// URL sent to the proxy
 *      port in plain text;
 *   4. an upstream that answers with a malformed status line — the task must go on and reply.
 *
 * Busybox has no TLS client that talks to modern servers, so the TLS-terminated and CONNECT
 * variants of attack 1 are in test/proxy/conversation-proxy.test.ts (Node's TLS client); a
 * `constructor` that really resolves to loopback needs a private /etc/hosts, which is in
 * test/proxy/upstream-connector.test.ts. The upstream side records every byte it receives.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startSmtpCapture, type CapturedMessage, type SmtpCapture } from '../harness/smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { runtimeCases, type RuntimeCase } from '../harness/runtimes.ts';
import { freePort } from '../harness/ports.ts';
import { createSourceRepo, CLI_CONTAINER_ENV } from '../harness/source-repo.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { openTestDb, startDaemon, writeTestConfig } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';
const ALICE = 'alice@example.com';
const REAL_TOKEN = 'ghp_RealSecretToken999888777666555';
/** The runtime of the suite running now; the daemon's `container_command`. */
let rt: RuntimeCase;

let dovecot: DovecotServer;
let smtp: SmtpCapture;
let mock: MockAnthropic;
let testTls: TestTls;
let mockTlsFront: TlsFront;
/** A plain HTTP server that ignores upgrades and keeps connections alive: what smuggling needs. */
let upstream: http.Server;
/** Answers every request with `HTTP/1.1 200 O\x01K`. */
let badUpstream: net.Server;
/** Listens on every local address (dual stack); nothing from the container may reach it. */
let loopbackCanary: net.Server;
const seen: Array<{ host: string; method: string; url: string; authorization?: string }> = [];
let upstreamBytes = '';
let canaryHits = 0;
let ports: { mockTls: number; upstream: number; bad: number; canary: number; dashboard: number };

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port)));
}

before(async () => {
  dovecot = await startDovecot({ users: [{ user: 'atk-bot', password: 'pw-atk' }] });
  smtp = await startSmtpCapture();
  mock = await startMockAnthropic(scriptedAgent);
  testTls = createTestTls();
  mockTlsFront = await startTlsFront(testTls, 'api.mock.test', Number(new URL(mock.url).port));
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ host: String(req.headers.host), method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      res.end(`UPSTREAM-OK ${req.method} ${req.url}\n`);
    });
  });
  upstream.on('connection', (s: net.Socket) => s.on('data', (d: Buffer) => (upstreamBytes += d.toString('latin1'))));
  badUpstream = net.createServer((c) => {
    c.on('error', () => c.destroy());
    c.once('data', () => c.end('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nhi'));
  });
  loopbackCanary = net.createServer((c) => {
    canaryHits++;
    c.on('error', () => c.destroy());
    c.end('HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nLOOPBACK-HIT');
  });
  ports = {
    mockTls: mockTlsFront.port,
    upstream: await listen(upstream, '127.0.0.1'),
    bad: await listen(badUpstream, '127.0.0.1'),
    canary: await listen(loopbackCanary, '::'),
    dashboard: await freePort(),
  };
});

after(async () => {
  mockTlsFront?.close();
  for (const s of [upstream, badUpstream, loopbackCanary]) s?.close();
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), mock?.close()]);
});

const ALLOWLIST = `# wildcard entries, as many real allowlists have; each also matches IP literals
domains:
  - allowed.test
  - "*.*.*.*"
  - "*1"
  - constructor
url_prefixes:
  - host: api.mock.test
    path: /v1/messages*
    methods: [POST]
  - host: api.test
    path: /api/*
    methods: [GET]
  - host: bad.test
    path: /*
`;

/** Each probe prints one line: [label] rc=<exit code> <output>. */
function probeScript(): string {
  const CRLF = '\\r\\n';
  const upgrade = (target: string, host: string) => `GET ${target} HTTP/1.1${CRLF}Host: ${host}${CRLF}Connection: Upgrade${CRLF}Upgrade: websocket${CRLF}${CRLF}`;
  const smuggled = [
    `GET /api/../admin-smuggled HTTP/1.1${CRLF}Host: api.test${CRLF}${CRLF}`,
    `GET /admin-smuggled HTTP/1.1${CRLF}Host: api.test${CRLF}Authorization: Bearer $GH_TOKEN${CRLF}${CRLF}`,
    `POST /api/smuggled-post HTTP/1.1${CRLF}Host: api.test${CRLF}Content-Length: 1${CRLF}${CRLF}x`,
    `GET /smuggled-other-host HTTP/1.1${CRLF}Host: other.test${CRLF}${CRLF}`,
  ].join('');
  const get = (target: string, host: string) => `GET ${target} HTTP/1.1${CRLF}Host: ${host}${CRLF}Connection: close${CRLF}${CRLF}`;
  const viaProxy = (hostPort: string, urlPath: string) => `raw 127.0.0.1 3128 2 "${get(`http://${hostPort}${urlPath}`, hostPort)}"`;
  // busybox wget crashes (SIGSEGV) on some error answers, so every probe that expects an error speaks
  // HTTP through nc: the bytes are what wget would send to port 80, or with HTTP_PROXY to port 3128.
  return `#!/bin/sh
r() { label=$1; shift; out=$("$@" 2>&1); rc=$?; echo "[$label] rc=$rc $(echo "$out" | tr -d '\\r' | tr '\\n' ' ' | cut -c1-200)"; }
# Sends raw bytes, prints how many HTTP responses came back and the first status line.
raw() { out=$( (printf "$4"; sleep "$3") | timeout 15 nc "$1" "$2"); echo "responses=$(echo "$out" | grep -c '^HTTP/1') first=$(echo "$out" | head -1)"; }
r malformed-status raw bad.test 80 2 "${get('/status', 'bad.test')}"
r smuggle-port-80 raw api.test 80 3 "${upgrade('/api/ws', 'api.test')}${smuggled}"
r smuggle-proxy-port raw 127.0.0.1 3128 3 "${upgrade('http://api.test/api/ws-proxy', 'api.test')}${smuggled}"
r literal-dashboard ${viaProxy(`127.0.0.1:${ports.dashboard}`, '/health')}
r literal-loopback ${viaProxy(`127.0.0.1:${ports.canary}`, '/canary')}
r literal-ipv6 ${viaProxy(`[::1]:${ports.canary}`, '/canary')}
r literal-mapped raw 127.0.0.1 80 2 "${get('/canary', `[::ffff:7f00:1]:${ports.canary}`)}"
r literal-metadata ${viaProxy('169.254.169.254', '/latest/meta-data/')}
r literal-unspecified raw 127.0.0.1 80 2 "${get('/canary', `0.0.0.0:${ports.canary}`)}"
r host-constructor ${viaProxy(`constructor:${ports.canary}`, '/canary')}
r masked-plain wget -qO- --header "Authorization: Bearer $GH_TOKEN" http://api.test/api/plain-secret
r masked-https-url raw 127.0.0.1 3128 2 "GET https://api.test/api/abs-secret HTTP/1.1${CRLF}Host: api.test${CRLF}Authorization: Bearer $GH_TOKEN${CRLF}Connection: close${CRLF}${CRLF}"
r still-working wget -qO- http://api.test/api/after
`;
}

function probeLines(reply: CapturedMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of (reply.text ?? '').matchAll(/\[([a-z0-9-]+)\] (rc=\d+.*)/g)) out.set(m[1]!, m[2]!);
  return out;
}

async function proxyAttacks(): Promise<void> {
  // What the upstreams saw belongs to this runtime's run (each task has its own surrogates).
  seen.length = 0;
  upstreamBytes = '';
  canaryHits = 0;
  const source = await createSourceRepo(`default_model: sonnet\ntimeout: 120\n${CLI_CONTAINER_ENV}  GH_TOKEN: !secret GH_TOKEN\n`, {
    '.airut/network-allowlist.yaml': ALLOWLIST,
    'probe.sh': probeScript(),
  });
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'atk',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'atk-bot',
        password: 'pw-atk',
        repoUrl: source.url,
        secrets: { ANTHROPIC_BASE_URL: 'https://api.mock.test', ANTHROPIC_API_KEY: 'test-key' },
        extra: { masked_secrets: { GH_TOKEN: { value: REAL_TOKEN, scopes: ['api.test'], headers: ['Authorization'] } } },
      },
    ],
    global: {
      container_command: rt.command,
      execution: { max_concurrent: 1, shutdown_timeout: 5 },
      dashboard: { enabled: true, host: '127.0.0.1', port: ports.dashboard },
      network: {
        upstream_overrides: {
          'api.mock.test': `127.0.0.1:${ports.mockTls}`,
          'api.test': `127.0.0.1:${ports.upstream}`,
          'other.test': `127.0.0.1:${ports.upstream}`,
          'bad.test': `127.0.0.1:${ports.bad}`,
        },
      },
    },
  });
  const daemon = startDaemon(cfg, [], { ...rt.env, NODE_EXTRA_CA_CERTS: testTls.caPath });
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'daemon start');
    const messageId = `<atk.${Date.now().toString(36)}@example.com>`;
    await dovecot.append('atk-bot', buildMail({ from: ALICE, to: 'atk-bot@repos.test', subject: 'attack the proxy', text: '[[bash:sh probe.sh]]', messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] }));
    const reply = await smtp.waitFor((m) => m.inReplyTo === messageId && m.header('x-airut-kind') !== 'ack', 240_000);
    const lines = probeLines(reply);
    const line = (label: string) => lines.get(label) ?? '(missing)';
    const rc = (label: string) => line(label).match(/^rc=(\d+)/)?.[1];

    // 4: the malformed answer was the first probe; the task went on to the last one and replied.
    assert.equal(reply.header('x-airut-kind'), 'reply', reply.text);
    assert.match(line('malformed-status'), /responses=1 first=HTTP\/1\.1 502/);
    assert.equal(rc('still-working'), '0', line('still-working'));
    assert.match(line('still-working'), /UPSTREAM-OK GET \/api\/after/);

    // 1: one answer to the ignored upgrade, nothing behind it went upstream.
    for (const label of ['smuggle-port-80', 'smuggle-proxy-port']) assert.match(line(label), /responses=1 first=HTTP\/1\.1 200/, label);
    assert.ok(seen.some((s) => s.url === '/api/ws') && seen.some((s) => s.url === '/api/ws-proxy'), 'the checked upgrade requests went upstream');
    assert.ok(!/smuggled/.test(upstreamBytes), `pipelined requests reached the upstream:\n${upstreamBytes}`);

    // 2: IP literals and `constructor` never connected to a local address.
    for (const label of ['literal-dashboard', 'literal-loopback', 'literal-ipv6', 'literal-mapped', 'literal-metadata', 'literal-unspecified', 'host-constructor']) {
      assert.match(line(label), /responses=1 first=HTTP\/1\.1 502/, label);
    }
    assert.equal(canaryHits, 0, 'nothing reached the listener on the local addresses');

    // 3: the upstream saw the surrogate over plain HTTP, never the real value; https:// in plain text is refused.
    const surrogate = /Bearer (ghp_\w+)/.exec(seen.find((s) => s.url === '/api/plain-secret')?.authorization ?? '')?.[1];
    assert.ok(surrogate && surrogate !== REAL_TOKEN && surrogate.length === REAL_TOKEN.length, `surrogate ${surrogate}`);
    assert.match(line('masked-https-url'), /responses=1 first=HTTP\/1\.1 400/);
    assert.ok(!seen.some((s) => s.url === '/api/abs-secret'));
    assert.ok(!upstreamBytes.includes(REAL_TOKEN), 'the real secret never reached an upstream in plain text');
    assert.ok(!(reply.text ?? '').includes(REAL_TOKEN));

    const db = openTestDb(cfg);
    let rows: Array<{ host: string; path: string; status: number; allowed: number; rule: string; error: string | null }>;
    try {
      rows = db.prepare('SELECT host, path, status, allowed, rule, error FROM network_requests ORDER BY id').all() as typeof rows;
    } finally {
      db.close();
    }
    assert.ok(rows.some((r) => r.host === 'bad.test' && r.status === 502 && /malformed/.test(r.error ?? '')), 'the bad answer has a 502 row');
    assert.ok(rows.some((r) => r.host === '169.254.169.254' && r.status === 502 && /local or link-local/.test(r.error ?? '')));
    assert.ok(rows.some((r) => r.path === '/api/abs-secret' && r.status === 400 && r.allowed === 0));
    assert.ok(!daemon.logs.some((l) => /uncaught|ERR_INVALID_CHAR/i.test(JSON.stringify(l))), 'no uncaught error in the daemon');
  } finally {
    await daemon.stop('SIGTERM');
  }
}

for (const c of runtimeCases()) {
  describe(`with ${c.command}`, { skip: c.skip }, () => {
    before(() => {
      rt = c;
    });
    test('attacks on the proxy from inside the container fail, and the task goes on', { timeout: 400_000 }, proxyAttacks);
  });
}
