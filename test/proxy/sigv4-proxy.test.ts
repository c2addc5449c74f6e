/**
 * signing_credentials through a real ConversationProxy: a client that holds only the surrogates
 * signs its requests (with the AWS SDK's signer, as an SDK in the container would), and a
 * SigV4-verifying S3-style server behind the proxy accepts them only because the proxy signed them
 * again with the real keys. The same surrogate-signed requests sent straight to the server, or to
 * a host outside the credential's scopes, are refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { parseAllowlist } from '../../src/proxy/allowlist.ts';
import { CertificateAuthority, ensureCaFiles } from '../../src/proxy/certificate-authority.ts';
import { ConversationProxy, PROXY_SOCKETS, type NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';
import { buildSigningRules, type SigningRule } from '../../src/proxy/sigv4-surrogates.ts';
import { Sigv4Server } from '../harness/sigv4-server.ts';
import { createTestTls } from '../harness/test-tls.ts';

const REAL = { accessKeyId: 'AKIAREALKEY000000001', secretAccessKey: 'RealSecretKey/0000000000000000000000000+', sessionToken: 'RealSessionToken'.repeat(40) };
const HOST = 'bucket.s3.test';
const UNSCOPED = 'unscoped.test';

let dir: string;
let ca: CertificateAuthority;
let proxy: ConversationProxy;
let server: Sigv4Server;
/** The same kind of server under a name outside the credential's scopes. */
let unscopedServer: Sigv4Server;
let rule: SigningRule;
let upstreamCaPem: string;
const log: NetworkLogEntry[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-sigv4-'));
  ca = CertificateAuthority.load(ensureCaFiles(path.join(dir, 'ca')));
  const upstreamTls = createTestTls();
  upstreamCaPem = upstreamTls.caPem;
  server = await Sigv4Server.start({ ...REAL, tls: upstreamTls.serverOptions(HOST) });
  unscopedServer = await Sigv4Server.start({ ...REAL, tls: upstreamTls.serverOptions(UNSCOPED) });
  const rules = buildSigningRules(
    {
      S3: {
        type: 'aws-sigv4',
        accessKeyId: { name: 'AWS_ACCESS_KEY_ID', value: REAL.accessKeyId },
        secretAccessKey: { name: 'AWS_SECRET_ACCESS_KEY', value: REAL.secretAccessKey },
        sessionToken: { name: 'AWS_SESSION_TOKEN', value: REAL.sessionToken },
        scopes: ['*.s3.test'],
      },
    },
  );
  rule = rules[0]!;
  proxy = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock'),
    allowlist: parseAllowlist(`domains: [${HOST}, ${UNSCOPED}]\n`),
    masks: [],
    signing: rules,
    ca,
    upstreamOverrides: { [HOST]: { host: '127.0.0.1', port: server.port }, [UNSCOPED]: { host: '127.0.0.1', port: unscopedServer.port } },
    upstreamCa: [upstreamCaPem],
    onRequest: (e) => log.push(e),
  });
});

after(async () => {
  await proxy?.close();
  await server?.close();
  await unscopedServer?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** What the container holds. */
function surrogateSigner(): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: rule.accessKeyId.surrogate, secretAccessKey: rule.secretAccessKey.surrogate, sessionToken: rule.sessionToken!.surrogate },
    region: 'us-east-1',
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
  });
}

interface Answer {
  status: number;
  body: Buffer;
}

interface Outgoing {
  host: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** Through the proxy's TLS socket (what the container's port 443 reaches), or straight to the server. */
function send(req: Outgoing, direct = false): Promise<Answer> {
  const options: https.RequestOptions = direct
    ? { host: '127.0.0.1', port: server.port, servername: req.host, ca: upstreamCaPem }
    : ({ socketPath: path.join(dir, 'sock', PROXY_SOCKETS.tls), servername: req.host, ca: ca.certificatePem } as https.RequestOptions);
  return new Promise((resolve, reject) => {
    const r = https.request({ ...options, method: req.method, path: req.path, headers: req.headers, agent: false }, (res: http.IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts) }));
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

async function signed(method: string, key: string, opts: { body?: Buffer; payload?: string; host?: string; headers?: Record<string, string> } = {}): Promise<Outgoing> {
  const host = opts.host ?? HOST;
  const payload = opts.payload ?? createHash('sha256').update(opts.body ?? '').digest('hex');
  const out = await surrogateSigner().sign({
    method,
    protocol: 'https:',
    hostname: host,
    path: key,
    headers: { host, 'x-amz-content-sha256': payload, ...(opts.body ? { 'content-length': String(opts.body.length) } : {}), ...opts.headers },
  });
  return { host, method, path: key, headers: out.headers as Record<string, string>, ...(opts.body ? { body: opts.body } : {}) };
}

const lastLog = () => log[log.length - 1]!;
const lastVerdict = () => server.verdicts[server.verdicts.length - 1]!;

test('signed-payload PUT, then UNSIGNED-PAYLOAD GET, with the session token: accepted only after re-signing', async () => {
  const body = Buffer.from('hello from the sandbox\n');
  const put = await signed('PUT', '/objects/hello.txt', { body });
  assert.equal(put.headers['x-amz-security-token'], rule.sessionToken!.surrogate);
  const res = await send(put);
  assert.equal(res.status, 200, res.body.toString());
  assert.deepEqual(lastVerdict(), { method: 'PUT', path: '/objects/hello.txt', kind: 'header', ok: true, reason: 'signature verified', chunks: 0 });
  assert.equal(lastLog().signed, 1);
  assert.equal(lastLog().masked, 1);

  const get = await send(await signed('GET', '/objects/hello.txt', { payload: 'UNSIGNED-PAYLOAD' }));
  assert.equal(get.status, 200);
  assert.equal(get.body.toString(), body.toString());
});

test('the surrogate-signed original sent straight to the server is refused', async () => {
  const res = await send(await signed('GET', '/objects/hello.txt', { payload: 'UNSIGNED-PAYLOAD' }), true);
  assert.equal(res.status, 403);
  assert.match(lastVerdict().reason, /unknown access key id AKIA/);
});

test('a request to a host outside the scopes is not re-signed (and so refused upstream)', async () => {
  const res = await send(await signed('GET', '/objects/hello.txt', { payload: 'UNSIGNED-PAYLOAD', host: UNSCOPED }));
  assert.equal(res.status, 403);
  assert.equal(lastLog().signed, 0);
  assert.equal(lastLog().host, UNSCOPED);
  const verdict = unscopedServer.verdicts[unscopedServer.verdicts.length - 1]!;
  assert.match(verdict.reason, /unknown access key id AKIA/);
});

const amzDate = (d: string) => new Date(d.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));

/** An aws-chunked body signed with the surrogate secret, chained from the seed signature, with an optional signed trailer. */
async function chunkedBody(seedAuthorization: string, date: string, chunks: readonly Buffer[], trailer: string | null): Promise<Buffer> {
  const signer = surrogateSigner();
  const scope = `${date.slice(0, 8)}/us-east-1/s3/aws4_request`;
  let previous = /Signature=([0-9a-f]{64})/.exec(seedAuthorization)![1]!;
  const empty = createHash('sha256').digest('hex');
  const parts: Buffer[] = [];
  for (const c of [...chunks, Buffer.alloc(0)]) {
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', date, scope, previous, empty, createHash('sha256').update(c).digest('hex')].join('\n');
    previous = await signer.sign(stringToSign, { signingDate: amzDate(date) });
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${previous}\r\n`), c, Buffer.from(c.length ? '\r\n' : ''));
  }
  if (trailer === null) parts.push(Buffer.from('\r\n'));
  else {
    const hashed = createHash('sha256').update(`${trailer}\n`).digest('hex');
    const signature = await signer.sign(['AWS4-HMAC-SHA256-TRAILER', date, scope, previous, hashed].join('\n'), { signingDate: amzDate(date) });
    parts.push(Buffer.from(`${trailer}\r\nx-amz-trailer-signature:${signature}\r\n\r\n`));
  }
  return Buffer.concat(parts);
}

for (const variant of ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'] as const) {
  test(`streaming upload (aws-chunked, ${variant}): every chunk signature re-signed`, async () => {
    const chunks = [randomBytes(70_000), randomBytes(65_536), randomBytes(1)];
    const decoded = Buffer.concat(chunks);
    const trailer = variant.endsWith('-TRAILER') ? 'x-amz-checksum-crc32:AAAAAA==' : null;
    // The signatures have a fixed length, so the encoded length is known before signing.
    const probe = await chunkedBody(`Signature=${'0'.repeat(64)}`, '20260101T000000Z', chunks, trailer);
    const key = `/objects/${variant.toLowerCase()}.bin`;
    const headers = { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded.length), 'content-length': String(probe.length), ...(trailer ? { 'x-amz-trailer': 'x-amz-checksum-crc32' } : {}) };
    const req = await signed('PUT', key, { payload: variant, headers });
    const body = await chunkedBody(req.headers['authorization']!, req.headers['x-amz-date']!, chunks, trailer);
    const res = await send({ ...req, body });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(lastVerdict().chunks, 4);
    assert.ok(server.objects.get(key)!.equals(decoded));
    assert.equal(lastLog().signed, 1);
  });
}

test('STREAMING-UNSIGNED-PAYLOAD-TRAILER: the headers are re-signed, the body passes as it is', async () => {
  const body = Buffer.from('5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n');
  const req = await signed('PUT', '/objects/unsigned-trailer.bin', { payload: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', headers: { 'content-encoding': 'aws-chunked', 'content-length': String(body.length) } });
  const res = await send({ ...req, body });
  assert.equal(res.status, 200, res.body.toString());
  assert.ok(server.objects.get('/objects/unsigned-trailer.bin')!.equals(body));
  assert.equal(lastLog().signed, 1);
});

test('presigned GET: query credential and signature re-signed', async () => {
  const presigned = await surrogateSigner().presign(
    { method: 'GET', protocol: 'https:', hostname: HOST, path: '/objects/hello.txt', headers: { host: HOST } },
    { expiresIn: 600 },
  );
  const query = Object.entries(presigned.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const pathAndQuery = `/objects/hello.txt?${query}`;
  const direct = await send({ host: HOST, method: 'GET', path: pathAndQuery, headers: { host: HOST } }, true);
  assert.equal(direct.status, 403);
  const res = await send({ host: HOST, method: 'GET', path: pathAndQuery, headers: { host: HOST } });
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.body.toString(), 'hello from the sandbox\n');
  assert.equal(lastVerdict().kind, 'presigned');
  assert.equal(lastLog().signed, 1);
});

test('a request the proxy cannot sign again goes out unchanged, with the reason in the network log', async () => {
  const req = await signed('GET', '/objects/hello.txt', { payload: 'UNSIGNED-PAYLOAD' });
  req.headers['authorization'] = req.headers['authorization']!.replace('SignedHeaders=', 'SignedHeaders=x-not-sent;');
  const res = await send(req);
  assert.equal(res.status, 403);
  assert.equal(lastLog().signed, 0);
  assert.match(String(lastLog().error), /could not re-sign the AWS request: the signed header x-not-sent is not in the request/);
});

test('a body that is not aws-chunked as its x-amz-content-sha256 says: the upload is cut with a 502 that says why', async () => {
  const body = Buffer.from('this is not aws-chunked at all\r\n');
  const req = await signed('PUT', '/objects/broken.bin', { payload: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', headers: { 'content-encoding': 'aws-chunked', 'content-length': String(body.length) } });
  const before = server.objects.size;
  const res = await send({ ...req, body });
  assert.equal(res.status, 502);
  assert.match(res.body.toString(), /not aws-chunked with chunk signatures/);
  assert.match(String(lastLog().error), /not aws-chunked with chunk signatures/);
  assert.equal(server.objects.size, before, 'nothing was stored');
});
