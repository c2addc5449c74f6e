/**
 * Issue 19, item 1, end to end: a repository whose `.airut/network-allowlist.yaml` has a
 * `url_prefixes` entry with a `graphql` block runs a task (the allowlist is accepted), and from
 * inside the real container (podman and Docker, see test/harness/runtimes.ts) a listed query goes
 * through the proxy to the upstream while an aliased mutation and a fragment-spread mutation are
 * refused with a 403 and never reach it. Busybox has no modern TLS client, so the requests go over
 * plain HTTP (port 80) with `nc`, from request files in the repository; the TLS path, masked
 * secrets and every bypass shape are in test/proxy/graphql-body.test.ts.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { runtimeCases, type RuntimeCase } from '../harness/runtimes.ts';
import { createSourceRepo, CLI_CONTAINER_ENV } from '../harness/source-repo.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { openTestDb, startDaemon, writeTestConfig } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';
const ALICE = 'alice@example.com';
let rt: RuntimeCase;
let dovecot: DovecotServer;
let smtp: SmtpCapture;
let mock: MockAnthropic;
let testTls: TestTls;
let mockTlsFront: TlsFront;
/** The GraphQL server stand-in: records every body it receives. */
let upstream: http.Server;
const bodies: string[] = [];
let ports: { mockTls: number; upstream: number };

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

before(async () => {
  dovecot = await startDovecot({ users: [{ user: 'gql-bot', password: 'pw-gql' }] });
  smtp = await startSmtpCapture();
  mock = await startMockAnthropic(scriptedAgent);
  testTls = createTestTls();
  mockTlsFront = await startTlsFront(testTls, 'api.mock.test', Number(new URL(mock.url).port));
  upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"data":{"viewer":{"login":"UPSTREAM-SAW-IT"}}}');
    });
  });
  ports = { mockTls: mockTlsFront.port, upstream: await listen(upstream) };
});

after(async () => {
  mockTlsFront?.close();
  for (const s of [upstream]) s?.close();
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), mock?.close()]);
});

const ALLOWLIST = `url_prefixes:
  - host: api.mock.test
    path: /v1/messages*
    methods: [POST]
  - host: gql.test
    path: /graphql
    methods: [POST]
    graphql:
      queries: ["*"]
      mutations: [createPullRequest]
`;

/** A raw HTTP/1.1 POST of `payload` as JSON, written to a file the probe pipes into nc. */
function postFile(payload: unknown): string {
  const body = JSON.stringify(payload);
  return `POST /graphql HTTP/1.1\r\nHost: gql.test\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

const REQUESTS = {
  'gql/allowed.http': postFile({ query: 'query Me { viewer { login } }' }),
  'gql/alias.http': postFile({ query: 'mutation { createPullRequest: deleteRepository(input: {}) { clientMutationId } }' }),
  'gql/fragment.http': postFile({ query: 'mutation { ...F } fragment F on Mutation { deleteRepository(input: {}) { clientMutationId } }' }),
};

const PROBE = `#!/bin/sh
for f in allowed alias fragment; do
  # nc stops reading answers when its input ends: keep the input open until the answer is in.
  out=$( (cat gql/$f.http; sleep 3) | timeout 15 nc gql.test 80 | tr -d '\\r' | tr '\\n' ' ' | cut -c1-900)
  echo "[$f] $out"
done
`;

async function graphqlFromContainer(): Promise<void> {
  bodies.length = 0;
  const source = await createSourceRepo(`default_model: sonnet\ntimeout: 120\n${CLI_CONTAINER_ENV}`, { '.airut/network-allowlist.yaml': ALLOWLIST, 'probe.sh': PROBE, ...REQUESTS });
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'gql',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'gql-bot',
        password: 'pw-gql',
        repoUrl: source.url,
        secrets: { ANTHROPIC_BASE_URL: 'https://api.mock.test', ANTHROPIC_API_KEY: 'test-key' },
      },
    ],
    global: {
      container_command: rt.command,
      execution: { max_concurrent: 1, shutdown_timeout: 5 },
      network: { upstream_overrides: { 'api.mock.test': `127.0.0.1:${ports.mockTls}`, 'gql.test': `127.0.0.1:${ports.upstream}` } },
    },
  });
  const daemon = startDaemon(cfg, [], { ...rt.env, NODE_EXTRA_CA_CERTS: testTls.caPath });
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'daemon start');
    const messageId = `<gql.${Date.now().toString(36)}@example.com>`;
    await dovecot.append('gql-bot', buildMail({ from: ALICE, to: 'gql-bot@repos.test', subject: 'graphql probes', text: '[[bash:sh probe.sh]]', messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] }));
    const reply = await smtp.waitFor((m) => m.inReplyTo === messageId && m.header('x-airut-kind') !== 'ack', 240_000);
    assert.equal(reply.header('x-airut-kind'), 'reply', reply.text);
    const line = (label: string) => new RegExp(`\\[${label}\\] ([^\\n]*)`).exec(reply.text ?? '')?.[1] ?? '(missing)';

    assert.match(line('allowed'), /^HTTP\/1\.1 200 .*UPSTREAM-SAW-IT/, reply.text);
    for (const label of ['alias', 'fragment']) {
      assert.match(line(label), /^HTTP\/1\.1 403 /, label);
      assert.match(line(label), /deleteRepository/, label);
      assert.match(line(label), /url_prefixes\[1\]\.graphql\.mutations/, label);
    }
    assert.deepEqual(bodies, [JSON.stringify({ query: 'query Me { viewer { login } }' })], 'only the listed query reached the upstream');

    const db = openTestDb(cfg);
    let rows: Array<{ host: string; status: number; allowed: number; rule: string }>;
    try {
      rows = db.prepare("SELECT host, status, allowed, rule FROM network_requests WHERE host = 'gql.test' ORDER BY id").all() as typeof rows;
    } finally {
      db.close();
    }
    assert.equal(rows.length, 3, JSON.stringify(rows));
    assert.match(rows[0]!.rule, /\[graphql-op: query\/viewer\]/);
    assert.equal(rows[0]!.allowed, 1);
    for (const r of rows.slice(1)) {
      assert.equal(r.status, 403);
      assert.equal(r.allowed, 0);
      assert.match(r.rule, /\[graphql-op: mutation\/deleteRepository\] refused/);
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
    test('GraphQL rules are enforced on requests from inside the container', { timeout: 400_000 }, graphqlFromContainer);
  });
}
