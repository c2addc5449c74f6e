/**
 * GraphQL rules through a real ConversationProxy: requests under an entry with a `graphql` block
 * are read, checked and either refused (nothing reaches the upstream) or sent on byte for byte;
 * requests under other entries keep streaming. The checker's cases are in graphql-operations.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseAllowlist } from '../../src/proxy/allowlist.ts';
import { CertificateAuthority, ensureCaFiles } from '../../src/proxy/certificate-authority.ts';
import { ConversationProxy, PROXY_SOCKETS, type NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';
import { GRAPHQL_MAX_BODY_BYTES } from '../../src/proxy/graphql-operations.ts';
import { buildMaskRules } from '../../src/proxy/masked-secrets.ts';
import { createTestTls } from '../harness/test-tls.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  headers: http.IncomingHttpHeaders;
}

const REAL_TOKEN = 'ghp_RealGraphqlToken0123456789';
const seen: Seen[] = [];
const log: NetworkLogEntry[] = [];
/** Emits 'entry' for every network-log row, so a test can wait for one. */
const logged = new EventEmitter();
/** Resolved by the upstream when the first chunk of a /rest/stream body arrives. */
let firstChunk: (() => void) | null = null;
let dir: string;
let ca: CertificateAuthority;
let proxy: ConversationProxy;
let plainUpstream: http.Server;
let tlsUpstream: https.Server;
let surrogate: string;

function record(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => {
    if (chunks.length === 0) firstChunk?.();
    chunks.push(c);
  });
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    seen.push({ method: req.method!, url: req.url!, body, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: { echo: body.length } }));
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-graphql-'));
  ca = CertificateAuthority.load(ensureCaFiles(path.join(dir, 'ca')));
  const upstreamTls = createTestTls();
  plainUpstream = http.createServer(record);
  tlsUpstream = https.createServer(upstreamTls.serverOptions('secure-gql.test'), record);
  await new Promise<void>((r) => plainUpstream.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => tlsUpstream.listen(0, '127.0.0.1', () => r()));
  const masks = buildMaskRules({ GH_TOKEN: { value: REAL_TOKEN, scopes: ['secure-gql.test'], headers: ['Authorization'], allowForeignCredentials: false } });
  surrogate = masks[0]!.surrogate;
  proxy = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock'),
    allowlist: parseAllowlist(`
url_prefixes:
  - host: gql.test
    path: /graphql
    methods: [GET, POST]
    graphql:
      queries: ["*"]
      mutations: [createPullRequest, "update*"]
  - host: secure-gql.test
    path: /graphql
    methods: [POST]
    graphql:
      queries: [viewer]
  - host: gql.test
    path: /rest/*
`),
    masks,
    ca,
    upstreamOverrides: {
      'gql.test': { host: '127.0.0.1', port: (plainUpstream.address() as net.AddressInfo).port },
      'secure-gql.test': { host: '127.0.0.1', port: (tlsUpstream.address() as net.AddressInfo).port },
    },
    upstreamCa: [upstreamTls.caPem],
    onRequest: (e) => {
      log.push(e);
      logged.emit('entry', e);
    },
  });
});

after(async () => {
  await proxy?.close();
  plainUpstream?.close();
  tlsUpstream?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sock = (name: keyof typeof PROXY_SOCKETS) => path.join(dir, 'sock', PROXY_SOCKETS[name]);

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function collect(req: http.ClientRequest, write?: (req: http.ClientRequest) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    if (write) write(req);
    else req.end();
  });
}

/** Plain HTTP as a container sends it to port 80. */
function post(urlPath: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const req = http.request({ socketPath: sock('http'), method: 'POST', path: urlPath, headers: { host: 'gql.test', 'content-type': 'application/json', ...headers }, agent: false });
  return collect(req, (r) => r.end(body));
}

const gql = (payload: unknown) => JSON.stringify(payload);

/** Sends `body`, expects the proxy's own 403, and that nothing reached any upstream. */
async function refused(body: string | Buffer, expectDetail: string, headers: Record<string, string> = {}): Promise<Answer> {
  const before = seen.length;
  const r = await post('/graphql', body, headers);
  assert.equal(r.status, 403, `expected a 403 for ${String(body).slice(0, 120)}`);
  assert.equal(r.headers['x-airut-blocked'], '1');
  assert.ok(r.body.includes(`[${expectDetail}]`), `the 403 names ${expectDetail}: ${r.body}`);
  assert.equal(seen.length, before, 'nothing of a refused request reaches the upstream');
  const entry = log.at(-1)!;
  assert.equal(entry.allowed, false);
  assert.equal(entry.status, 403);
  assert.match(entry.rule, /^url_prefixes\[0\].*\[graphql-op: .*\] refused: /);
  return r;
}

test('an allowed query goes upstream byte for byte, tagged in the network log', async () => {
  const body = gql({ query: '{ viewer { login } }', variables: {} });
  const r = await post('/graphql', body);
  assert.equal(r.status, 200);
  const last = seen.at(-1)!;
  assert.equal(last.body, body);
  assert.equal(last.headers['content-length'], String(Buffer.byteLength(body)));
  const entry = log.at(-1)!;
  assert.equal(entry.allowed, true);
  assert.match(entry.rule, /^url_prefixes\[0\]: gql\.test \/graphql \[GET, POST\] \[graphql-op: query\/viewer\]$/);
});

test('a chunked body is read whole and sent on with its length', async () => {
  const body = gql({ query: 'mutation { createPullRequest(input: {}) { clientMutationId } }' });
  const req = http.request({ socketPath: sock('http'), method: 'POST', path: '/graphql', headers: { host: 'gql.test', 'transfer-encoding': 'chunked' }, agent: false });
  const r = await collect(req, (w) => {
    w.write(body.slice(0, 10));
    w.end(body.slice(10));
  });
  assert.equal(r.status, 200);
  assert.equal(seen.at(-1)!.body, body);
  assert.equal(seen.at(-1)!.headers['content-length'], String(body.length));
  assert.equal(seen.at(-1)!.headers['transfer-encoding'], undefined);
});

test('an unlisted mutation is refused with a 403 that says which list to extend', async () => {
  const r = await refused(gql({ query: 'mutation { deleteRepository(input: {}) { clientMutationId } }' }), 'deleteRepository');
  assert.match(r.body, /mutation field "deleteRepository" is not allowed/);
  assert.match(r.body, /url_prefixes\[0\]\.graphql\.mutations/);
  assert.match(r.body, /\.airut\/network-allowlist\.yaml/);
  assert.match(log.at(-1)!.rule, /\[graphql-op: mutation\/deleteRepository\]/);
});

test('the bypass shapes are refused through the proxy, and none reaches the upstream', async () => {
  const del = 'deleteRepository(input: {}) { clientMutationId }';
  await refused(gql({ query: `mutation { createPullRequest: ${del} }` }), 'deleteRepository');
  await refused(gql({ query: `mutation { ...F } fragment F on Mutation { ${del} }` }), 'deleteRepository');
  await refused(gql({ query: `mutation { ... on Mutation { ${del} } }` }), 'deleteRepository');
  await refused(gql({ query: `mutation { __typename ...F } fragment F on Mutation { ${del} }` }), '__typename');
  await refused(gql({ query: `query Harmless { viewer { login } } mutation Evil { ${del} }`, operationName: 'Harmless' }), 'deleteRepository');
  await refused(gql([{ query: '{ viewer { login } }' }, { query: `mutation { ${del} }` }]), 'deleteRepository');
  await refused(gql({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }), '<persisted-query>');
  await refused(gql({ query: 'subscription { issueUpdated { id } }' }), 'subscription:<blocked>');
  await refused('{"query": "{ viewer { login } }"', '<unparseable>');
  await refused(gql({ query: 'mutation { createPullRequest(input: {}) {' }), '<unparseable>');
  await refused(gql({ query: '{ viewer { login } }' }), '<unparseable>', { 'content-encoding': 'gzip' });
});

test('an oversized body is refused, announced or chunked', async () => {
  const big = Buffer.alloc(GRAPHQL_MAX_BODY_BYTES + 1, 0x20);
  const r = await refused(big, '<too-large>');
  assert.match(r.body, new RegExp(`at most ${GRAPHQL_MAX_BODY_BYTES} bytes`));
  const before = seen.length;
  const req = http.request({ socketPath: sock('http'), method: 'POST', path: '/graphql', headers: { host: 'gql.test', 'transfer-encoding': 'chunked' }, agent: false });
  const chunked = await collect(req, (w) => {
    for (let i = 0; i < 5; i++) w.write(Buffer.alloc(GRAPHQL_MAX_BODY_BYTES / 4, 0x20));
    w.end();
  });
  assert.equal(chunked.status, 403);
  assert.match(chunked.body, /<too-large>/);
  assert.equal(seen.length, before);
});

test('GET ?query= is checked like a body', async () => {
  const get = (query: string) =>
    collect(http.request({ socketPath: sock('http'), method: 'GET', path: `/graphql?${new URLSearchParams({ query }).toString()}`, headers: { host: 'gql.test' }, agent: false }));
  const ok = await get('{ viewer { login } }');
  assert.equal(ok.status, 200);
  assert.equal(seen.at(-1)!.method, 'GET');
  assert.equal(seen.at(-1)!.headers['content-length'], undefined, 'a GET without a body stays without one');
  const before = seen.length;
  const bad = await get('mutation { deleteRepository(input: {}) { clientMutationId } }');
  assert.equal(bad.status, 403);
  assert.match(bad.body, /\[deleteRepository\]/);
  assert.equal(seen.length, before);
});

test('over HTTPS the masked secret is swapped in for an allowed operation, and a refused one goes nowhere', async () => {
  const send = (query: string) =>
    collect(
      https.request({
        socketPath: sock('tls'),
        servername: 'secure-gql.test',
        ca: ca.certificatePem,
        method: 'POST',
        path: '/graphql',
        headers: { host: 'secure-gql.test', authorization: `Bearer ${surrogate}` },
        agent: false,
      } as https.RequestOptions),
      (w) => w.end(gql({ query })),
    );
  const ok = await send('{ viewer { login } }');
  assert.equal(ok.status, 200);
  assert.equal(seen.at(-1)!.headers.authorization, `Bearer ${REAL_TOKEN}`);
  assert.equal(log.at(-1)!.masked, 1);
  const before = seen.length;
  const bad = await send('{ repository(owner: "o", name: "r") { id } }');
  assert.equal(bad.status, 403);
  assert.match(bad.body, /url_prefixes\[1\]\.graphql\.queries/);
  assert.ok(!bad.body.includes(REAL_TOKEN));
  assert.equal(seen.length, before);
});

test('an upgrade (a WebSocket subscription) under a graphql rule is refused', async () => {
  const before = seen.length;
  const socket = net.connect(sock('http'));
  await once(socket, 'connect');
  socket.write('GET /graphql HTTP/1.1\r\nHost: gql.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString()));
  await once(socket, 'close');
  assert.match(text, /^HTTP\/1\.1 403/);
  assert.match(text, /cannot be checked/);
  assert.equal(seen.length, before);
});

test('requests under an entry without a graphql block keep streaming', async () => {
  const arrived = new Promise<void>((resolve) => (firstChunk = resolve));
  const req = http.request({ socketPath: sock('http'), method: 'POST', path: '/rest/stream', headers: { host: 'gql.test', 'transfer-encoding': 'chunked' }, agent: false });
  const answer = collect(req, (w) => {
    // The rest of the body is sent only after the upstream saw the first part.
    w.write('not graphql at all, ');
    void arrived.then(() => w.end('and never buffered'));
  });
  const r = await answer;
  firstChunk = null;
  assert.equal(r.status, 200);
  assert.equal(seen.at(-1)!.body, 'not graphql at all, and never buffered');
  assert.doesNotMatch(log.at(-1)!.rule, /graphql-op/);
});

test('a client that hangs up before its body arrived is logged, and nothing goes upstream', async () => {
  const before = seen.length;
  const entry = new Promise<NetworkLogEntry>((resolve) => {
    const onEntry = (e: NetworkLogEntry) => {
      if (e.error?.includes('before its request body arrived')) {
        logged.off('entry', onEntry);
        resolve(e);
      }
    };
    logged.on('entry', onEntry);
  });
  const socket = net.connect(sock('http'));
  await once(socket, 'connect');
  // Destroyed once the partial request is handed to the kernel, so the proxy does get its head.
  socket.write('POST /graphql HTTP/1.1\r\nHost: gql.test\r\nContent-Length: 100\r\n\r\n{"query": "{ vie', () => socket.destroy());
  const e = await entry;
  assert.equal(e.allowed, false);
  assert.equal(seen.length, before);
});
