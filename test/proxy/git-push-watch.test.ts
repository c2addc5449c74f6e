/**
 * Git pushes through the real conversation proxy: the host's `git` pushes over HTTPS (CONNECT
 * through the proxy port, the proxy's CA trusted) to the TLS smart-HTTP server of
 * test/harness/git-http-server.ts, with the masked surrogate as its password. The network log must
 * name exactly the refs the server accepted. The same through a container is test/e2e/git-push.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { parseAllowlist } from '../../src/proxy/allowlist.ts';
import { CertificateAuthority, ensureCaFiles, type CaFiles } from '../../src/proxy/certificate-authority.ts';
import { ConversationProxy, PROXY_SOCKETS, type NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';
import { buildMaskRules } from '../../src/proxy/masked-secrets.ts';
import { startGitHttpServer, type GitHttpServer } from '../harness/git-http-server.ts';
import { createTestTls } from '../harness/test-tls.ts';

const run = promisify(execFile);
const REAL_TOKEN = 'ghp_RealPushToken0123456789abcdef';
const log: NetworkLogEntry[] = [];
/** Called with every entry as the proxy logs it (the entry comes when the proxy's side of the response closed). */
const onLog = new Set<(e: NetworkLogEntry) => void>();
const entryFor = (p: string) =>
  new Promise<NetworkLogEntry>((resolve) => {
    const check = (e: NetworkLogEntry) => {
      if (e.path !== p) return;
      onLog.delete(check);
      resolve(e);
    };
    onLog.add(check);
  });
let dir: string;
let caFiles: CaFiles;
let proxy: ConversationProxy;
let server: GitHttpServer;
/** TCP in front of the proxy's Unix socket, as the sidecar is for a container. */
let front: net.Server;
let surrogate: string;
/** Answers receive-pack POSTs with a canned report-status, coded as `/<coding>/…` in the path says. */
let cannedUpstream: https.Server;
let work: string;
let bare: string;

const env = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: dir,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'T',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 'T',
  GIT_COMMITTER_EMAIL: 't@example.com',
});
const git = async (cwd: string, ...args: string[]) => (await run('git', args, { cwd, env: env() })).stdout.trim();

/** `git push` from the work tree through the proxy with `token` as the password. */
function push(token: string, ...refspecs: string[]): Promise<{ ok: boolean; stderr: string }> {
  const port = (front.address() as net.AddressInfo).port;
  const helper = `!f() { echo username=x-access-token; echo password=${token}; }; f`;
  const args = ['-c', `http.proxy=http://127.0.0.1:${port}`, '-c', `http.sslCAInfo=${caFiles.certPath}`, '-c', `credential.helper=${helper}`, 'push', 'https://git.test/proj.git', ...refspecs];
  return run('git', args, { cwd: work, env: env() }).then(
    (r) => ({ ok: true, stderr: r.stderr }),
    (err: { stderr?: string }) => ({ ok: false, stderr: String(err.stderr) }),
  );
}

const PUSH_PATH = '/proj.git/git-receive-pack';

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-gitpush-'));
  caFiles = ensureCaFiles(path.join(dir, 'ca'));
  const upstreamTls = createTestTls();
  const root = path.join(dir, 'served');
  bare = path.join(root, 'proj.git');
  fs.mkdirSync(root);
  await run('git', ['init', '-q', '--bare', bare], { env: env() });
  // The server refuses one branch by name, so one push can have an `ok` and an `ng` ref.
  fs.writeFileSync(path.join(bare, 'hooks', 'update'), '#!/bin/sh\n[ "$1" = refs/heads/blocked ] && { echo "blocked by policy" >&2; exit 1; }\nexit 0\n', { mode: 0o755 });
  server = await startGitHttpServer(root, { user: 'x-access-token', token: REAL_TOKEN }, { tls: upstreamTls.serverOptions('git.test'), push: true });
  const masks = buildMaskRules({ GH_TOKEN: { value: REAL_TOKEN, scopes: ['git.test'], headers: ['Authorization'], allowForeignCredentials: false } });
  surrogate = masks[0]!.surrogate;
  proxy = await ConversationProxy.start({
    socketDir: path.join(dir, 'sock'),
    allowlist: parseAllowlist(`
url_prefixes:
  - host: git.test
    path: /proj.git/info/refs
    methods: [GET]
  - host: git.test
    path: /proj.git/git-receive-pack
    methods: [POST]
  - host: canned.test
    path: /*
    methods: [POST]
`),
    masks,
    ca: CertificateAuthority.load(caFiles),
    upstreamOverrides: {
      'git.test': { host: '127.0.0.1', port: server.port },
      'canned.test': { host: '127.0.0.1', port: await startCannedUpstream(upstreamTls.serverOptions('canned.test')) },
    },
    upstreamCa: [upstreamTls.caPem],
    onRequest: (e) => {
      log.push(e);
      for (const f of onLog) f(e);
    },
  });
  front = net.createServer((c) => {
    const s = net.connect(path.join(dir, 'sock', PROXY_SOCKETS.explicit));
    c.pipe(s).pipe(c);
    c.on('error', () => s.destroy());
    s.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
  work = path.join(dir, 'work');
  await run('git', ['init', '-q', '-b', 'main', work], { env: env() });
  fs.writeFileSync(path.join(work, 'a.txt'), 'one\n');
  await git(work, 'add', '-A');
  await git(work, 'commit', '-q', '-m', 'one');
});

after(async () => {
  front?.close();
  cannedUpstream?.close();
  await proxy?.close();
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a push with the surrogate reaches the server with the real token, and the log names the ref', async () => {
  const logged = entryFor(PUSH_PATH);
  const r = await push(surrogate, 'HEAD:refs/heads/feature');
  assert.ok(r.ok, r.stderr);
  assert.equal(await git(bare, 'rev-parse', 'refs/heads/feature'), await git(work, 'rev-parse', 'HEAD'));
  const entry = await logged;
  assert.deepEqual(entry.pushed, ['refs/heads/feature']);
  assert.equal(entry.masked, 1);
  assert.equal(entry.status, 200);
});

test('a push of several refs names only those the server accepted', async () => {
  fs.writeFileSync(path.join(work, 'a.txt'), 'two\n');
  await git(work, 'commit', '-q', '-am', 'two');
  const logged = entryFor(PUSH_PATH);
  const r = await push(surrogate, 'HEAD:refs/heads/feature', 'HEAD:refs/heads/second', 'HEAD:refs/heads/blocked');
  assert.equal(r.ok, false, 'one ref was refused, so git reports failure');
  assert.match(r.stderr, /blocked/);
  assert.deepEqual((await logged).pushed, ['refs/heads/feature', 'refs/heads/second']);
  await assert.rejects(git(bare, 'rev-parse', '--verify', 'refs/heads/blocked'));
});

test('a deletion is not a pushed branch', async () => {
  const logged = entryFor(PUSH_PATH);
  const r = await push(surrogate, ':refs/heads/second');
  assert.ok(r.ok, r.stderr);
  const entry = await logged;
  assert.equal(entry?.status, 200);
  assert.equal(entry?.pushed, undefined);
});

test('a push with any other token fails and records nothing', async () => {
  log.length = 0;
  const before = server.counts.unauthorised;
  const r = await push('ghp_SomeOtherTokenTheAgentBrought00', 'HEAD:refs/heads/foreign');
  assert.equal(r.ok, false);
  assert.ok(server.counts.unauthorised > before);
  await assert.rejects(git(bare, 'rev-parse', '--verify', 'refs/heads/foreign'));
  assert.ok(log.every((e) => e.pushed === undefined), JSON.stringify(log));
});

const pktLine = (text: string) => `${(text.length + 4).toString(16).padStart(4, '0')}${text}`;
const REPORT = Buffer.from(`${pktLine('unpack ok\n')}${pktLine('ok refs/heads/canned\n')}0000`);
const COMMANDS = Buffer.from(`${pktLine(`${'0'.repeat(40)} ${'a'.repeat(40)} refs/heads/canned\0report-status\n`)}0000PACK-bytes`);

async function startCannedUpstream(opts: { key: string; cert: string }): Promise<number> {
  cannedUpstream = https.createServer(opts, (req, res) => {
    req.resume();
    req.on('end', () => {
      const coding = req.url!.split('/')[1]!;
      if (coding === 'refused') return void res.writeHead(403).end(REPORT);
      const body = coding === 'gzip' ? zlib.gzipSync(REPORT) : coding === 'deflate' ? zlib.deflateSync(REPORT) : REPORT;
      res.writeHead(200, { 'content-type': 'application/x-git-receive-pack-result', ...(coding === 'identity' ? {} : { 'content-encoding': coding }) }).end(body);
    });
  });
  await new Promise<void>((r) => cannedUpstream.listen(0, '127.0.0.1', () => r()));
  return (cannedUpstream.address() as net.AddressInfo).port;
}

/** One receive-pack POST to canned.test over TLS through the proxy's Unix socket. */
async function cannedPush(coding: string): Promise<NetworkLogEntry> {
  const urlPath = `/${coding}/r.git/git-receive-pack`;
  const logged = entryFor(urlPath);
  await new Promise<void>((resolve, reject) => {
    const req = https.request(
      { socketPath: path.join(dir, 'sock', PROXY_SOCKETS.tls), servername: 'canned.test', host: 'canned.test', path: urlPath, method: 'POST', ca: fs.readFileSync(caFiles.certPath), headers: { host: 'canned.test' } },
      (res: http.IncomingMessage) => {
        res.resume();
        res.on('end', () => resolve());
      },
    );
    req.on('error', reject);
    req.end(COMMANDS);
  });
  return logged;
}

test('a report-status in gzip or deflate is read; an unknown coding or a refusal records nothing', async () => {
  assert.deepEqual((await cannedPush('identity')).pushed, ['refs/heads/canned']);
  assert.deepEqual((await cannedPush('gzip')).pushed, ['refs/heads/canned']);
  assert.deepEqual((await cannedPush('deflate')).pushed, ['refs/heads/canned']);
  const br = await cannedPush('br');
  assert.equal(br.status, 200);
  assert.equal(br.pushed, undefined);
  const refused = await cannedPush('refused');
  assert.equal(refused.status, 403);
  assert.equal(refused.pushed, undefined);
});
