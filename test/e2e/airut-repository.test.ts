/**
 * Issue 19: a repository set up for Airut runs a task unchanged. The repository is
 * test/fixtures/airut-repo/ as Airut's documentation and its own repository lay it out — no
 * `.airut/airut.yaml` (Airut reads none), `.airut/network-allowlist.yaml` with a `graphql:` rule,
 * `.airut/container/Dockerfile` copying a `gitconfig` with a credential helper to /root/.gitconfig,
 * `.airut/sandbox.yaml` (airut-sandbox's file, which the gateway ignores), `CLAUDE.md` — and the
 * server configuration uses Airut's repository keys: `model`, `secrets`, `masked_secrets` (the Claude
 * API key and GH_TOKEN), `signing_credentials`, `resource_limits` and `capabilities`, every pool
 * reaching the container under its name with no `container_env` anywhere.
 *
 * The real daemon, real podman, the real Claude Code CLI (its API key is itself a masked secret), the
 * real proxy; GitHub is a TLS git server that takes pushes only with the real token plus a GraphQL
 * endpoint, S3 a server that verifies SigV4 signatures with the real keys. The agent runs the
 * fixture's probe.sh; the reply carries one line per step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { startGitHttpServer, type GitHttpServer } from '../harness/git-http-server.ts';
import { Sigv4Server } from '../harness/sigv4-server.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { testRootfsTarball } from '../harness/test-image.ts';
import { openTestDb, startDaemon, writeTestConfig } from '../harness/daemon-process.ts';

const run = promisify(execFile);
const FIXTURE = new URL('../fixtures/airut-repo/', import.meta.url).pathname;
const AUTHSERV = 'mx.repos.test';
const ALICE = 'alice@example.com';
const REAL_GH_TOKEN = 'ghp_AirutFixtureRealToken0123456789ab';
const REAL_API_KEY = 'sk-ant-api03-AirutFixtureRealApiKey0123456789';
const REAL_AWS = { accessKeyId: 'AKIAFIXTUREREALKEY01', secretAccessKey: 'fixtureRealSecretKey/0123456789abcdefghij', sessionToken: 'FixtureRealSessionToken//0123456789' };

let dovecot: DovecotServer;
let smtp: SmtpCapture;
let mock: MockAnthropic;
let testTls: TestTls;
let mockTlsFront: TlsFront;
let gitServer: GitHttpServer;
let graphqlApi: https.Server;
let s3: Sigv4Server;
let served: string;
const graphqlSeen: Array<{ authorization: string | undefined; body: string }> = [];

before(async () => {
  dovecot = await startDovecot({ users: [{ user: 'airut-bot', password: 'pw-airut' }] });
  smtp = await startSmtpCapture();
  mock = await startMockAnthropic(scriptedAgent);
  testTls = createTestTls();
  mockTlsFront = await startTlsFront(testTls, 'api.mock.test', Number(new URL(mock.url).port));
  served = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-fixture-served-'));
  fs.mkdirSync(path.join(served, 'org'));
  gitServer = await startGitHttpServer(served, { user: 'x-access-token', token: REAL_GH_TOKEN }, { tls: testTls.serverOptions('github.test'), push: true });
  graphqlApi = https.createServer(testTls.serverOptions('api.github.test'), (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      graphqlSeen.push({ authorization: req.headers.authorization, body: Buffer.concat(parts).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":{"viewer":{"login":"airut-app"}}}');
    });
  });
  await new Promise<void>((resolve) => graphqlApi.listen(0, '127.0.0.1', resolve));
  s3 = await Sigv4Server.start({ ...REAL_AWS, tls: testTls.serverOptions('bucket.s3.test') });
});

after(async () => {
  mockTlsFront?.close();
  graphqlApi?.close();
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), mock?.close(), gitServer?.close(), s3?.close()]);
  fs.rmSync(served, { recursive: true, force: true });
  testTls?.remove();
});

/** The fixture committed as a repository's default branch, with the offline base image beside its Dockerfile. */
async function fixtureRepo(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-fixture-repo-'));
  fs.cpSync(FIXTURE, dir, { recursive: true });
  fs.copyFileSync(await testRootfsTarball(), path.join(dir, '.airut', 'container', 'rootfs.tar'));
  const env = { ...process.env, GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 't@example.com' };
  await run('git', ['-C', dir, 'init', '-q', '-b', 'main'], { env });
  await run('git', ['-C', dir, 'add', '-A'], { env });
  await run('git', ['-C', dir, 'commit', '-q', '-m', 'onboard to Airut'], { env });
  return dir;
}

const port = (s: net.Server) => (s.address() as net.AddressInfo).port;

test('an Airut repository runs a task unchanged: every pool, the graphql rule, /storage, push, re-signing, limits', { timeout: 420_000 }, async () => {
  const source = await fixtureRepo();
  await run('git', ['clone', '-q', '--bare', source, path.join(served, 'org', 'repo.git')]);
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'airut',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'airut-bot',
        password: 'pw-airut',
        repoUrl: `file://${source}`,
        secrets: { ANTHROPIC_BASE_URL: 'https://api.mock.test', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' },
        extra: {
          model: 'sonnet',
          masked_secrets: {
            ANTHROPIC_API_KEY: { value: REAL_API_KEY, scopes: ['api.mock.test'], headers: ['x-api-key'] },
            GH_TOKEN: { value: REAL_GH_TOKEN, scopes: ['github.test', 'api.github.test'], headers: ['Authorization'] },
          },
          signing_credentials: {
            S3: {
              type: 'aws-sigv4',
              access_key_id: { name: 'AWS_ACCESS_KEY_ID', value: REAL_AWS.accessKeyId },
              secret_access_key: { name: 'AWS_SECRET_ACCESS_KEY', value: REAL_AWS.secretAccessKey },
              session_token: { name: 'AWS_SESSION_TOKEN', value: REAL_AWS.sessionToken },
              scopes: ['*.s3.test'],
            },
          },
          resource_limits: { timeout: 300, memory: '1g', cpus: 1, pids_limit: 256 },
          capabilities: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'],
        },
      },
    ],
    global: {
      execution: { max_concurrent: 1, shutdown_timeout: 5 },
      network: {
        upstream_overrides: {
          'api.mock.test': `127.0.0.1:${mockTlsFront.port}`,
          'github.test': `127.0.0.1:${gitServer.port}`,
          'api.github.test': `127.0.0.1:${port(graphqlApi)}`,
          'bucket.s3.test': `127.0.0.1:${s3.port}`,
        },
      },
    },
  });
  const daemon = startDaemon(cfg, [], { NODE_EXTRA_CA_CERTS: testTls.caPath });
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'daemon start');
    const messageId = `<airut-fixture.${Date.now().toString(36)}@example.com>`;
    await dovecot.append('airut-bot', buildMail({ from: ALICE, to: 'airut-bot@repos.test', subject: 'do the usual', text: '[[bash:bash probe.sh]]', messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] }));
    const reply = await smtp.waitFor((m) => m.inReplyTo === messageId && m.header('x-airut-kind') !== 'ack', 360_000);
    const text = reply.text ?? '';
    const line = (label: string) => new RegExp(`\\[${label}\\] (.*)`).exec(text)?.[1] ?? '(missing)';
    assert.equal(reply.header('x-airut-kind'), 'reply', text);

    // The CLI ran on the pools alone: its API key is a masked secret the mock received for real.
    assert.ok(mock.messageRequests().length > 0);
    assert.ok(mock.messageRequests().every((r) => r.headers['x-api-key'] === REAL_API_KEY), 'the Claude API got the real key, swapped in by the proxy');
    assert.match(line('storage'), /^rc=0 kept/);
    assert.match(line('token'), /^rc=0 shaped like a token/);
    // GitHub's GraphQL API: the query went through with the real token, the unlisted mutation never left.
    assert.match(line('graphql-query'), /^rc=0 .*airut-app/);
    assert.match(line('graphql-mutation'), /^rc=0 403/);
    assert.equal(graphqlSeen.length, 1, JSON.stringify(graphqlSeen));
    assert.equal(graphqlSeen[0]!.authorization, `bearer ${REAL_GH_TOKEN}`);
    // The image's own credential helper (Airut's gitconfig) pushed with the surrogate; the server has it.
    assert.match(line('push'), /^rc=0 /, line('push'));
    const bare = path.join(served, 'org', 'repo.git');
    assert.equal((await run('git', ['-C', bare, 'log', '-1', '--format=%s', 'refs/heads/airut/fixture-work'])).stdout.trim(), 'agent work');
    assert.match(text, /Pushed branch `airut\/fixture-work` to `github\.test\/org\/repo\.git`/);
    // S3 accepted the upload only because the proxy re-signed it with the real keys.
    assert.match(line('s3'), /^rc=0/, line('s3'));
    assert.equal(s3.objects.get('/work.txt')?.toString(), 'done by the agent\n');
    assert.ok(s3.verdicts.length > 0 && s3.verdicts.every((v) => v.ok), JSON.stringify(s3.verdicts));
    // The container settings Airut repositories expect.
    assert.equal(line('caps').replace(/^rc=0 CapEff:\s*/, '').trim(), '00000000000000cb', line('caps'));
    assert.match(line('sandbox-env'), /CLAUDE_CODE_DISABLE_BACKGROUND_TASKS=1 IS_SANDBOX=1/);

    // No real value reached the reply, the logs or the network log.
    const daemonOutput = JSON.stringify(daemon.logs) + daemon.otherOutput.join('\n');
    for (const secret of [REAL_GH_TOKEN, REAL_API_KEY, REAL_AWS.secretAccessKey, REAL_AWS.sessionToken]) {
      assert.ok(!text.includes(secret), 'a real value in the reply');
      assert.ok(!daemonOutput.includes(secret), 'a real value in the daemon log');
    }
    const db = openTestDb(cfg);
    try {
      const rows = db.prepare(`SELECT host, status, rule FROM network_requests WHERE repo_id = 'airut'`).all() as Array<{ host: string; status: number; rule: string }>;
      assert.ok(rows.some((r) => r.host === 'api.github.test' && r.status === 403 && /graphql-op/.test(r.rule)), JSON.stringify(rows));
    } finally {
      db.close();
    }
  } finally {
    await daemon.stop();
    fs.rmSync(source, { recursive: true, force: true });
  }
});
