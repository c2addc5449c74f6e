/**
 * GitHub App installation tokens: the minter against a local TLS mock of GitHub's token endpoint
 * (the JWT checked with jose and the app's public key), then a real ConversationProxy swapping the
 * minted token in behind the surrogate.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { GithubAppCredential } from '../../src/config/types.ts';
import { parseAllowlist } from '../../src/proxy/allowlist.ts';
import { CertificateAuthority, ensureCaFiles } from '../../src/proxy/certificate-authority.ts';
import { ConversationProxy, PROXY_SOCKETS, type NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';
import { buildGithubAppRules, GithubAppTokenError, GithubAppTokens, type GithubAppTokenOptions } from '../../src/proxy/github-app-tokens.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';

interface Mint {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

let upstreamTls: TestTls;
let publicKey: KeyObject;
let pkcs8: string;
let pkcs1: string;
let github: https.Server;
let baseUrl: string;
const mints: Mint[] = [];
/** What the mock answers next: a status, or 201 with a token expiring `expiresInMs` after its clock. */
let answer: { status: number; expiresAt?: string } = { status: 201 };
let tokenCounter = 0;
/** Held until released, to make concurrent callers overlap one mint. */
let gate: Promise<void> | null = null;

before(async () => {
  upstreamTls = createTestTls();
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  publicKey = pair.publicKey;
  pkcs8 = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  pkcs1 = pair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  github = https.createServer(upstreamTls.serverOptions('127.0.0.1'), (req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', async () => {
      mints.push({ path: req.url!, headers: req.headers, body: text ? JSON.parse(text) : null });
      if (gate) await gate;
      res.setHeader('content-type', 'application/json');
      if (answer.status !== 201) {
        res.writeHead(answer.status).end(JSON.stringify({ message: answer.status === 401 ? 'A JSON web token could not be decoded' : 'oops' }));
        return;
      }
      tokenCounter++;
      const expiresAt = answer.expiresAt ?? new Date(Date.now() + 3600_000).toISOString();
      res.writeHead(201).end(JSON.stringify({ token: `ghs_minted${String(tokenCounter).padStart(4, '0')}RealInstallationToken`, expires_at: expiresAt }));
    });
  });
  await new Promise<void>((r) => github.listen(0, '127.0.0.1', () => r()));
  baseUrl = `https://127.0.0.1:${(github.address() as { port: number }).port}`;
});

after(() => {
  github?.close();
  upstreamTls?.remove();
});

function credential(over: Partial<GithubAppCredential> = {}): GithubAppCredential {
  return {
    appId: 'Iv23liTestApp',
    privateKey: pkcs8,
    installationId: '4242',
    scopes: ['api.github.test', 'github.test'],
    allowForeignCredentials: false,
    baseUrl,
    permissions: { contents: 'write', pull_requests: 'write' },
    repositories: ['my-repo'],
    ...over,
  };
}

function reset(next: typeof answer = { status: 201 }): void {
  mints.length = 0;
  answer = next;
}

test('mints with an RS256 JWT from the app key (PKCS#8 and PKCS#1) and the configured permissions and repositories', async () => {
  for (const key of [pkcs8, pkcs1]) {
    reset();
    const tokens = new GithubAppTokens('repos.app.github_app_credentials.GH_TOKEN', credential({ privateKey: key }), { ca: [upstreamTls.caPem] });
    const token = await tokens.token();
    assert.match(token, /^ghs_minted\d{4}RealInstallationToken$/);
    assert.equal(mints.length, 1);
    const m = mints[0]!;
    assert.equal(m.path, '/app/installations/4242/access_tokens');
    assert.deepEqual(m.body, { permissions: { contents: 'write', pull_requests: 'write' }, repositories: ['my-repo'] });
    assert.equal(m.headers.accept, 'application/vnd.github+json');
    assert.equal(m.headers['x-github-api-version'], '2022-11-28');
    const jwt = String(m.headers.authorization).replace(/^Bearer /, '');
    const { payload, protectedHeader } = await jwtVerify(jwt, publicKey, { issuer: 'Iv23liTestApp', algorithms: ['RS256'] });
    assert.equal(protectedHeader.alg, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(payload.iat! - (now - 60)) <= 5, 'iat is a minute in the past');
    assert.ok(Math.abs(payload.exp! - (now + 540)) <= 5, 'exp is nine minutes ahead');
  }
});

test('without permissions and repositories the body is empty JSON; GitHub Enterprise base_url paths are kept', async () => {
  reset();
  const tokens = new GithubAppTokens('x', credential({ permissions: null, repositories: null, baseUrl: `${baseUrl}/api/v3` }), { ca: [upstreamTls.caPem] });
  await tokens.token();
  assert.equal(mints[0]!.path, '/api/v3/app/installations/4242/access_tokens');
  assert.deepEqual(mints[0]!.body, {});
});

test('a token is reused until 5 minutes before it expires, then minted again', async () => {
  reset({ status: 201, expiresAt: new Date(Date.UTC(2030, 0, 1, 13, 0, 0)).toISOString() });
  let clock = Date.UTC(2030, 0, 1, 12, 0, 0);
  const tokens = new GithubAppTokens('x', credential(), { ca: [upstreamTls.caPem], now: () => clock });
  const first = await tokens.token();
  clock = Date.UTC(2030, 0, 1, 12, 54, 59);
  assert.equal(await tokens.token(), first, 'cached');
  assert.equal(mints.length, 1);
  clock = Date.UTC(2030, 0, 1, 12, 55, 0);
  const second = await tokens.token();
  assert.notEqual(second, first, 'rotated');
  assert.equal(mints.length, 2);
});

test('concurrent first requests share one mint', async () => {
  reset();
  let release!: () => void;
  gate = new Promise<void>((r) => (release = r));
  const tokens = new GithubAppTokens('x', credential(), { ca: [upstreamTls.caPem] });
  const all = Promise.all(Array.from({ length: 8 }, () => tokens.token()));
  // Wait for the one request to arrive, then let it answer.
  while (mints.length === 0) await new Promise((r) => setTimeout(r, 10));
  release();
  gate = null;
  const got = await all;
  assert.equal(new Set(got).size, 1);
  assert.equal(mints.length, 1);
});

test('401 and 500 from GitHub are clear errors naming the credential and the status, never the key; failures are not cached', async () => {
  const where = 'repos.app.github_app_credentials.GH_TOKEN';
  for (const status of [401, 500, 404]) {
    reset({ status });
    const tokens = new GithubAppTokens(where, credential(), { ca: [upstreamTls.caPem] });
    const err = await tokens.token().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof GithubAppTokenError, String(err));
    assert.equal(err.code, 'GITHUB_APP_TOKEN_FAILED');
    assert.match(err.message, new RegExp(`${where.replace(/\./g, '\\.')} at ${baseUrl.replace(/\./g, '\\.')} failed: GitHub answered ${status}`));
    if (status === 401) assert.match(err.message, /app_id and .*private_key/);
    if (status === 404) assert.match(err.message, /installation_id/);
    assert.ok(!err.message.includes('PRIVATE KEY') && !err.message.includes(pkcs8.split('\n')[1]!));
    answer = { status: 201 };
    assert.match(await tokens.token(), /^ghs_minted/, 'the next request tries again');
  }
});

test('each mint and each failed mint is one log line naming the credential, never the token', async () => {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const log = {
    info: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'info', fields, msg }),
    warn: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', fields, msg }),
  } as unknown as NonNullable<GithubAppTokenOptions['log']>;
  reset({ status: 401 });
  const tokens = new GithubAppTokens('repos.app.github_app_credentials.GH_TOKEN', credential(), { ca: [upstreamTls.caPem], log });
  await assert.rejects(tokens.token());
  answer = { status: 201 };
  const token = await tokens.token();
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.level, 'warn');
  assert.equal(lines[0]!.fields.credential, 'repos.app.github_app_credentials.GH_TOKEN');
  assert.match(String(lines[0]!.fields.err), /GitHub answered 401/);
  assert.equal(lines[1]!.level, 'info');
  assert.match(lines[1]!.msg, /minted a GitHub App installation token/);
  assert.ok(!JSON.stringify(lines).includes(token));
});

test('a private key that is not an RSA PEM is a clear error naming its config key', async () => {
  reset();
  const tokens = new GithubAppTokens('repos.app.github_app_credentials.GH_TOKEN', credential({ privateKey: 'not a key' }), { ca: [upstreamTls.caPem] });
  await assert.rejects(tokens.token(), { code: 'GITHUB_APP_TOKEN_FAILED', message: /repos\.app\.github_app_credentials\.GH_TOKEN\.private_key is not a PEM RSA private key/ });
  assert.equal(mints.length, 0);
});

test('an unreachable endpoint is a clear error naming the credential and base_url', async () => {
  const tokens = new GithubAppTokens('repos.app.github_app_credentials.GH_TOKEN', credential({ baseUrl: 'https://127.0.0.1:1' }), { ca: [upstreamTls.caPem] });
  await assert.rejects(tokens.token(), { code: 'GITHUB_APP_TOKEN_FAILED', message: /GH_TOKEN at https:\/\/127\.0\.0\.1:1 failed: .*ECONNREFUSED/ });
});

test('the surrogate is ghs_ + 36 letters and digits, new per task, only in Authorization', () => {
  const [a] = buildGithubAppRules('app', { GH_TOKEN: credential() });
  const [b] = buildGithubAppRules('app', { GH_TOKEN: credential() });
  assert.match(a!.surrogate, /^ghs_[A-Za-z0-9]{36}$/);
  assert.notEqual(a!.surrogate, b!.surrogate);
  assert.deepEqual(a!.headers, ['authorization']);
  assert.deepEqual(a!.scopes, ['api.github.test', 'github.test']);
});

test('through a real proxy: scoped hosts only ever see the minted token, others the surrogate, foreign tokens are stripped, a failed mint is a 502', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-ghapp-'));
  const ca = CertificateAuthority.load(ensureCaFiles(path.join(dir, 'ca')));
  const seen: { host: string; authorization: string | undefined }[] = [];
  const upstream = https.createServer(
    { ...upstreamTls.serverOptions('api.github.test'), SNICallback: (name, cb) => cb(null, tls.createSecureContext(upstreamTls.serverOptions(name))) },
    (req, res) => {
      seen.push({ host: String(req.headers.host), authorization: req.headers.authorization });
      res.end('ok');
    },
  );
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as { port: number }).port;
  const log: NetworkLogEntry[] = [];
  const rules = [
    ...buildGithubAppRules('app', { GH_TOKEN: credential() }, { ca: [upstreamTls.caPem] }),
    ...buildGithubAppRules('app', { BROKEN: credential({ installationId: '404', scopes: ['broken.test'] }) }, { ca: [upstreamTls.caPem] }),
  ];
  const [surrogate, brokenSurrogate] = [rules[0]!.surrogate, rules[1]!.surrogate];
  const proxy = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock'),
    allowlist: parseAllowlist('domains: [api.github.test, github.test, other.test, broken.test]\n'),
    masks: rules,
    ca,
    upstreamOverrides: Object.fromEntries(['api.github.test', 'github.test', 'other.test', 'broken.test'].map((h) => [h, { host: '127.0.0.1', port }])),
    upstreamCa: [upstreamTls.caPem],
    onRequest: (e) => log.push(e),
  });
  const get = (host: string, urlPath: string, authorization: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request({ socketPath: path.join(dir, 'sock', PROXY_SOCKETS.tls), servername: host, ca: ca.certificatePem, path: urlPath, headers: { host, authorization }, agent: false } as https.RequestOptions);
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    reset();
    assert.equal((await get('api.github.test', '/user', `Bearer ${surrogate}`)).status, 200);
    assert.equal((await get('github.test', '/o/r.git/info/refs', `Basic ${Buffer.from(`x-access-token:${surrogate}`).toString('base64')}`)).status, 200);
    assert.equal((await get('api.github.test', '/repos', `token ${surrogate}`)).status, 200);
    assert.equal(mints.length, 1, 'one mint serves every request while the token is fresh');
    const minted = seen[0]!.authorization!.replace(/^Bearer /, '');
    assert.match(minted, /^ghs_minted/);
    assert.equal(Buffer.from(seen[1]!.authorization!.replace(/^Basic /, ''), 'base64').toString(), `x-access-token:${minted}`);
    assert.equal(seen[2]!.authorization, `token ${minted}`);

    assert.equal((await get('other.test', '/x', `Bearer ${surrogate}`)).status, 200);
    assert.equal(seen[3]!.authorization, `Bearer ${surrogate}`, 'out of scope: the surrogate, never the token');

    assert.equal((await get('api.github.test', '/user', 'Bearer ghp_attackerOwnToken0000000000000000')).status, 200);
    assert.equal(seen[4]!.authorization, undefined, 'a foreign token never reaches the scoped host');
    const strippedEntry = log.at(-1)!;
    assert.equal(strippedEntry.stripped, 1);
    assert.match(strippedEntry.rule, /STRIPPED header 'authorization' \(foreign credential blocked\)/);
    assert.doesNotMatch(strippedEntry.rule, /attacker/);

    answer = { status: 404 };
    const failed = await get('broken.test', '/x', `Bearer ${brokenSurrogate}`);
    assert.equal(failed.status, 502);
    assert.match(failed.body, /repos\.app\.github_app_credentials\.BROKEN at .* failed: GitHub answered 404/);
    assert.equal(seen.length, 5, 'nothing went upstream with the surrogate');
    assert.match(log.at(-1)!.error!, /GitHub answered 404/);
    for (const e of log) assert.ok(!JSON.stringify(e).includes(minted), 'no minted token in the network log');
  } finally {
    await proxy.close();
    upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
