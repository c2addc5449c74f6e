/**
 * Issue 19, credential pools end to end: the real daemon, real podman and Docker, the real Claude
 * Code CLI. The CLI's own requests to the (mock) Anthropic API go over HTTPS through the sandbox
 * proxy, so they show what the proxy does to credentials inside TLS:
 *
 *   - ANTHROPIC_AUTH_TOKEN is a GitHub App credential scoped to the API host. No container_env line
 *     names it (every pool is injected), the container holds only a `ghs_` surrogate, and the API
 *     sees the installation token the daemon minted from a local mock of GitHub's token endpoint;
 *   - ANTHROPIC_API_KEY is a plain secret, a credential the agent could hold of its own: the API
 *     host is scoped to a masked secret naming `x-api-key`, so that foreign value is stripped.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { runtimeCases, type RuntimeCase } from '../harness/runtimes.ts';
import { createSourceRepo } from '../harness/source-repo.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { openTestDb, startDaemon, writeTestConfig } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';
const ALICE = 'alice@example.com';
const FOREIGN_KEY = 'sk-ant-foreignKeyOfTheAgent0000';
let rt: RuntimeCase;
let dovecot: DovecotServer;
let smtp: SmtpCapture;
let mock: MockAnthropic;
let testTls: TestTls;
let mockTlsFront: TlsFront;
let github: https.Server;
let githubPort: number;
let mockTlsPort: number;
const minted: string[] = [];
const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

before(async () => {
  dovecot = await startDovecot({ users: [{ user: 'app-bot', password: 'pw-app' }] });
  smtp = await startSmtpCapture();
  mock = await startMockAnthropic(scriptedAgent);
  testTls = createTestTls();
  mockTlsFront = await startTlsFront(testTls, 'api.mock.test', Number(new URL(mock.url).port));
  github = https.createServer(testTls.serverOptions('127.0.0.1'), (req, res) => {
    req.resume();
    req.on('end', () => {
      const token = `ghs_e2eMinted${minted.length}${'x'.repeat(20)}`;
      minted.push(token);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, expires_at: new Date(Date.now() + 3600_000).toISOString() }));
    });
  });
  mockTlsPort = mockTlsFront.port;
  githubPort = await listen(github);
});

after(async () => {
  mockTlsFront?.close();
  github?.close();
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), mock?.close()]);
});

async function credentialsEndToEnd(): Promise<void> {
  minted.length = 0;
  const firstRequest = mock.requests.length;
  // No container_env entry for either credential: every pool is injected under its name.
  const source = await createSourceRepo(
    `default_model: sonnet
timeout: 60
container_env:
  ANTHROPIC_BASE_URL: !secret ANTHROPIC_BASE_URL
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
  DISABLE_AUTOUPDATER: "1"
  CLAUDE_CODE_MAX_RETRIES: "0"
`,
    { '.airut/network-allowlist.yaml': 'url_prefixes:\n  - host: api.mock.test\n    path: /v1/messages*\n    methods: [POST]\n' },
  );
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'app',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'app-bot',
        password: 'pw-app',
        repoUrl: source.url,
        secrets: { ANTHROPIC_BASE_URL: 'https://api.mock.test', ANTHROPIC_API_KEY: FOREIGN_KEY },
        extra: {
          github_app_credentials: {
            ANTHROPIC_AUTH_TOKEN: { app_id: 'Iv23e2e', private_key: privateKey, installation_id: '77', scopes: ['api.mock.test'], base_url: `https://127.0.0.1:${githubPort}` },
          },
          masked_secrets: { OTHER_API_KEY: { value: 'sk-ant-realOtherKey000000000', scopes: ['api.mock.test'], headers: ['x-api-key'] } },
        },
      },
    ],
    global: {
      container_command: rt.command,
      execution: { max_concurrent: 1, shutdown_timeout: 5 },
      network: { upstream_overrides: { 'api.mock.test': `127.0.0.1:${mockTlsPort}` } },
    },
  });
  const daemon = startDaemon(cfg, [], { ...rt.env, NODE_EXTRA_CA_CERTS: testTls.caPath });
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'daemon start');
    const messageId = `<${Date.now().toString(36)}.app@example.com>`;
    await dovecot.append('app-bot', buildMail({ from: ALICE, to: 'app-bot@repos.test', subject: 'env', text: '[[bash:echo "AUTH=$ANTHROPIC_AUTH_TOKEN OTHER=$OTHER_API_KEY"]]', messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] }));
    const reply = await smtp.waitFor((m) => m.inReplyTo === messageId && m.header('x-airut-kind') !== 'ack', 180_000);
    assert.equal(reply.header('x-airut-kind'), 'reply', reply.text);
    const surrogate = /AUTH=(\S+)/.exec(reply.text ?? '')?.[1] ?? '';
    assert.match(surrogate, /^ghs_[A-Za-z0-9]{36}$/, `the container holds a surrogate: ${reply.text}`);
    assert.match(reply.text ?? '', /OTHER=sk-ant-[A-Za-z0-9]+/, 'the masked secret is injected without container_env, as a surrogate');
    assert.ok(!(reply.text ?? '').includes('sk-ant-realOtherKey000000000'));

    assert.ok(minted.length >= 1, 'the daemon minted an installation token');
    const apiCalls = mock.requests.slice(firstRequest).filter((r) => r.url.startsWith('/v1/messages'));
    assert.ok(apiCalls.length > 0);
    for (const call of apiCalls) {
      assert.ok(minted.includes(String(call.headers.authorization).replace(/^Bearer /, '')), `the API saw a minted token: ${call.headers.authorization}`);
      assert.equal(call.headers['x-api-key'], undefined, 'the foreign key was stripped');
    }
    const db = openTestDb(cfg);
    try {
      const rows = db.prepare(`SELECT stripped, rule, masked FROM network_requests WHERE host = 'api.mock.test'`).all() as { stripped: number; rule: string; masked: number }[];
      assert.ok(rows.length > 0);
      for (const r of rows) {
        assert.equal(r.masked, 1);
        assert.equal(r.stripped, 1, r.rule);
        assert.match(r.rule, /STRIPPED header 'x-api-key' \(foreign credential blocked\)/);
      }
    } finally {
      db.close();
    }
    const logText = daemon.logs.map((l) => JSON.stringify(l)).join('\n');
    for (const token of minted) assert.ok(!logText.includes(token), 'no minted token in the daemon log');
  } finally {
    await daemon.stop('SIGTERM');
  }
}

for (const c of runtimeCases()) {
  describe(`with ${c.command}`, { skip: c.skip }, () => {
    before(() => {
      rt = c;
    });
    test('a GitHub App credential is minted and swapped in behind its surrogate; a foreign key is stripped', { timeout: 300_000 }, credentialsEndToEnd);
  });
}
