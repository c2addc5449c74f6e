/**
 * Issue 19, item 4, end to end: the real daemon, real podman and Docker (test/harness/runtimes.ts),
 * the real Claude Code CLI driven by the scripted agent, the real sandbox proxy. The agent commits on
 * a new branch in its workspace and runs `git push` over HTTPS to a TLS smart-HTTP git server
 * reached by name (`network.upstream_overrides`), with a credential helper that hands git the
 * masked `GH_TOKEN` — which in the container is only a surrogate. The server accepts pushes only
 * with the real token, so the push getting through proves the proxy swapped it in; a second push
 * with any other token must fail. The reply names the pushed branch (from the proxy's view of the
 * push), and the workspace's `origin` carries no credentials.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { runtimeCases, type RuntimeCase } from '../harness/runtimes.ts';
import { createSourceRepo, CLI_CONTAINER_ENV } from '../harness/source-repo.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { startGitHttpServer, type GitHttpServer } from '../harness/git-http-server.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { openTestDb, startDaemon, writeTestConfig } from '../harness/daemon-process.ts';

const run = promisify(execFile);
const AUTHSERV = 'mx.repos.test';
const ALICE = 'alice@example.com';
const REAL_TOKEN = 'ghp_RealPushSecret5550001112223334';
const FOREIGN_TOKEN = 'ghp_AgentsOwnToken9998887776665554';
let rt: RuntimeCase;

let dovecot: DovecotServer;
let smtp: SmtpCapture;
let mock: MockAnthropic;
let testTls: TestTls;
let mockTlsFront: TlsFront;
let gitServer: GitHttpServer;
let served: string;

before(async () => {
  dovecot = await startDovecot({ users: [{ user: 'push-bot', password: 'pw-push' }] });
  smtp = await startSmtpCapture();
  mock = await startMockAnthropic(scriptedAgent);
  testTls = createTestTls();
  mockTlsFront = await startTlsFront(testTls, 'api.mock.test', Number(new URL(mock.url).port));
  served = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-push-served-'));
  gitServer = await startGitHttpServer(served, { user: 'x-access-token', token: REAL_TOKEN }, { tls: testTls.serverOptions('git.test'), push: true });
});

after(async () => {
  mockTlsFront?.close();
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), mock?.close(), gitServer?.close()]);
  fs.rmSync(served, { recursive: true, force: true });
  testTls?.remove();
});

const ALLOWLIST = `url_prefixes:
  - host: api.mock.test
    path: /v1/messages*
    methods: [POST]
  - host: git.test
    path: /proj.git/info/refs
    methods: [GET]
  - host: git.test
    path: /proj.git/git-upload-pack
    methods: [POST]
  - host: git.test
    path: /proj.git/git-receive-pack
    methods: [POST]
`;

/** Prints one labelled line per step; the reply carries the output. */
const PUSH_SCRIPT = `#!/bin/bash
cd /workspace
echo "[origin] $(git remote get-url origin)"
git checkout -q -b agent-work
echo "work of the agent" > agent.txt
git add agent.txt
git commit -q -m "agent work"
helper='!f() { echo username=x-access-token; echo "password=$GH_TOKEN"; }; f'
git -c credential.helper="$helper" push https://git.test/proj.git HEAD:refs/heads/agent-work > /tmp/push.log 2>&1
echo "[push] rc=$? $(tail -2 /tmp/push.log | tr '\\n' ' ')"
foreign='!f() { echo username=x-access-token; echo password=${FOREIGN_TOKEN}; }; f'
git -c credential.helper="$foreign" push https://git.test/proj.git HEAD:refs/heads/foreign > /tmp/foreign.log 2>&1
echo "[foreign] rc=$? $(tail -1 /tmp/foreign.log)"
`;

const git = async (dir: string, ...args: string[]) => (await run('git', ['-C', dir, ...args])).stdout.trim();

async function pushThroughProxy(): Promise<void> {
  const source = await createSourceRepo(`default_model: sonnet\ntimeout: 180\n${CLI_CONTAINER_ENV}  GH_TOKEN: !secret GH_TOKEN\n`, {
    '.airut/network-allowlist.yaml': ALLOWLIST,
    'push.sh': PUSH_SCRIPT,
  });
  // The server's copy starts as the repository itself, so the push sends one commit, not the test image.
  const bare = path.join(served, 'proj.git');
  fs.rmSync(bare, { recursive: true, force: true });
  await run('git', ['clone', '-q', '--bare', source.dir, bare]);
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'push',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'push-bot',
        password: 'pw-push',
        repoUrl: source.url,
        secrets: { ANTHROPIC_BASE_URL: 'https://api.mock.test', ANTHROPIC_API_KEY: 'test-key' },
        extra: { masked_secrets: { GH_TOKEN: { value: REAL_TOKEN, scopes: ['git.test'], headers: ['Authorization'] } } },
      },
    ],
    global: {
      container_command: rt.command,
      execution: { max_concurrent: 1, shutdown_timeout: 5 },
      network: { upstream_overrides: { 'api.mock.test': `127.0.0.1:${mockTlsFront.port}`, 'git.test': `127.0.0.1:${gitServer.port}` } },
    },
  });
  const daemon = startDaemon(cfg, [], { ...rt.env, NODE_EXTRA_CA_CERTS: testTls.caPath });
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'daemon start');
    const messageId = `<push.${Date.now().toString(36)}@example.com>`;
    await dovecot.append('push-bot', buildMail({ from: ALICE, to: 'push-bot@repos.test', subject: 'push your work', text: '[[bash:bash push.sh]]', messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] }));
    const reply = await smtp.waitFor((m) => m.inReplyTo === messageId && m.header('x-airut-kind') !== 'ack', 300_000);
    const text = reply.text ?? '';
    const line = (label: string) => new RegExp(`\\[${label}\\] (.*)`).exec(text)?.[1] ?? '(missing)';
    assert.equal(reply.header('x-airut-kind'), 'reply', text);

    // The push with the surrogate went through: the server has the branch with the agent's commit.
    assert.match(line('push'), /^rc=0 /, line('push'));
    assert.equal(await git(bare, 'log', '-1', '--format=%s', 'refs/heads/agent-work'), 'agent work');
    assert.equal(await git(bare, 'show', 'refs/heads/agent-work:agent.txt'), 'work of the agent');
    // The reply names it, from the proxy's view of the push, before the usage footer.
    assert.match(text, /Pushed branch `agent-work` to `git\.test\/proj\.git`\.[\s\S]*— Cost/);

    // Any other token never gets a push through.
    assert.match(line('foreign'), /^rc=[1-9]\d* .*Authentication failed/, line('foreign'));
    await assert.rejects(git(bare, 'rev-parse', '--verify', 'refs/heads/foreign'));
    assert.doesNotMatch(text, /refs\/heads\/foreign|branch `foreign`/);

    // origin stays credential-free; the real token is nowhere in the reply.
    assert.equal(line('origin'), source.url);
    assert.ok(!text.includes(REAL_TOKEN));

    const db = openTestDb(cfg);
    try {
      const rows = db.prepare(`SELECT path, status, pushed FROM network_requests WHERE pushed IS NOT NULL`).all() as Array<{ path: string; status: number; pushed: string }>;
      assert.deepEqual(rows, [{ path: '/proj.git/git-receive-pack', status: 200, pushed: '["refs/heads/agent-work"]' }]);
    } finally {
      db.close();
    }
  } finally {
    await daemon.stop('SIGTERM');
  }
}

for (const c of runtimeCases()) {
  describe(`with ${c.command}`, { skip: c.skip }, () => {
    before(() => {
      rt = c;
    });
    test('the agent pushes a branch through the proxy with the masked token; the reply names it', { timeout: 450_000 }, pushThroughProxy);
  });
}
