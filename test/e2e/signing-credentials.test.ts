/**
 * signing_credentials end to end: the real daemon, real podman and Docker (once per runtime), the
 * real Claude Code CLI against the mock Anthropic API, and curl in the task container as the
 * S3-style client: `curl --aws-sigv4 aws:amz:us-east-1:s3` signs PUT and GET with the surrogate
 * keys it finds in its environment, and the SigV4-verifying server (test/harness/sigv4-server.ts),
 * reached by name through network.upstream_overrides, accepts them only because the sandbox proxy
 * signed them again with the real keys and swapped in the real session token. curl trusts the
 * proxy's certificate through CURL_CA_BUNDLE, which the sandbox sets.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startDovecot, type DovecotServer } from '../harness/dovecot.ts';
import { startSmtpCapture, type SmtpCapture } from '../harness/smtp-capture.ts';
import { startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { buildMail, dmarcPass } from '../harness/mail-builder.ts';
import { runtimeCases, type RuntimeCase } from '../harness/runtimes.ts';
import { createSourceRepo, CLI_CONTAINER_ENV } from '../harness/source-repo.ts';
import { scriptedAgent } from '../harness/scripted-agent.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { Sigv4Server } from '../harness/sigv4-server.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { openTestDb, startDaemon, writeTestConfig } from '../harness/daemon-process.ts';

const AUTHSERV = 'mx.repos.test';
const ALICE = 'alice@example.com';
const BUCKET = 'bucket.s3.test';
const REAL = { accessKeyId: 'AKIAE2EREALKEY000001', secretAccessKey: 'E2eRealSecretKey/000000000000000000000+0', sessionToken: 'E2eRealSessionToken'.repeat(30) };
let rt: RuntimeCase;

let dovecot: DovecotServer;
let smtp: SmtpCapture;
let mock: MockAnthropic;
let testTls: TestTls;
let mockTlsFront: TlsFront;
let mockTlsPort: number;
let s3: Sigv4Server;

before(async () => {
  dovecot = await startDovecot({ users: [{ user: 'sig-bot', password: 'pw-sig' }] });
  smtp = await startSmtpCapture();
  mock = await startMockAnthropic(scriptedAgent);
  testTls = createTestTls();
  mockTlsFront = await startTlsFront(testTls, 'api.mock.test', Number(new URL(mock.url).port));
  mockTlsPort = mockTlsFront.port;
  s3 = await Sigv4Server.start({ ...REAL, tls: testTls.serverOptions(BUCKET) });
});

after(async () => {
  mockTlsFront?.close();
  await Promise.allSettled([dovecot?.stop(), smtp?.stop(), mock?.close(), s3?.close()]);
});

const ALLOWLIST = `url_prefixes:
  - host: api.mock.test
    path: /v1/messages*
    methods: [POST]
  - host: ${BUCKET}
    path: /objects/*
    methods: [GET, PUT]
`;

/** Each probe prints one line: [label] rc=<exit code> <output>. */
const PROBE = `#!/bin/sh
r() { label=$1; shift; out=$("$@" 2>&1); rc=$?; echo "[$label] rc=$rc $(echo "$out" | tr -d '\\r' | tr '\\n' ' ' | cut -c1-300)"; }
s3() { curl -sS -w ' status=%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-security-token: $AWS_SESSION_TOKEN" "$@"; }
echo "hello from the sandbox" > /tmp/hello.txt
r key-prefix sh -c 'echo "$AWS_ACCESS_KEY_ID" | cut -c1-4'
r put s3 -T /tmp/hello.txt https://${BUCKET}/objects/hello.txt
r get s3 https://${BUCKET}/objects/hello.txt
r put-unsigned s3 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T /tmp/hello.txt https://${BUCKET}/objects/unsigned.txt
`;

async function signedUploads(): Promise<void> {
  s3.verdicts.length = 0;
  s3.objects.clear();
  const env = `${CLI_CONTAINER_ENV}  AWS_ACCESS_KEY_ID: !secret AWS_ACCESS_KEY_ID\n  AWS_SECRET_ACCESS_KEY: !secret AWS_SECRET_ACCESS_KEY\n  AWS_SESSION_TOKEN: !secret AWS_SESSION_TOKEN\n`;
  const source = await createSourceRepo(`default_model: sonnet\ntimeout: 120\n${env}`, { '.airut/network-allowlist.yaml': ALLOWLIST, 's3.sh': PROBE });
  const cfg = writeTestConfig({
    repos: [
      {
        id: 'sig',
        imapPort: dovecot.port,
        smtpPort: smtp.port,
        user: 'sig-bot',
        password: 'pw-sig',
        repoUrl: source.url,
        secrets: { ANTHROPIC_BASE_URL: 'https://api.mock.test', ANTHROPIC_API_KEY: 'test-key' },
        extra: {
          signing_credentials: {
            S3: {
              type: 'aws-sigv4',
              access_key_id: { name: 'AWS_ACCESS_KEY_ID', value: REAL.accessKeyId },
              secret_access_key: { name: 'AWS_SECRET_ACCESS_KEY', value: REAL.secretAccessKey },
              session_token: { name: 'AWS_SESSION_TOKEN', value: REAL.sessionToken },
              scopes: ['*.s3.test'],
            },
          },
        },
      },
    ],
    global: {
      container_command: rt.command,
      execution: { max_concurrent: 1, shutdown_timeout: 5 },
      network: {
        upstream_overrides: {
          'api.mock.test': `127.0.0.1:${mockTlsPort}`,
          [BUCKET]: `127.0.0.1:${s3.port}`,
        },
      },
    },
  });
  const daemon = startDaemon(cfg, [], { ...rt.env, NODE_EXTRA_CA_CERTS: testTls.caPath });
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'daemon start');
    const messageId = `<sig.${Date.now().toString(36)}@example.com>`;
    await dovecot.append('sig-bot', buildMail({ from: ALICE, to: 'sig-bot@repos.test', subject: 'use the bucket', text: '[[bash:sh s3.sh]]', messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] }));
    const reply = await smtp.waitFor((m) => m.inReplyTo === messageId && m.header('x-airut-kind') !== 'ack', 240_000);
    const text = reply.text ?? '';
    const line = (label: string) => new RegExp(`\\[${label}\\] (rc=\\d+[^\\n]*)`).exec(text)?.[1] ?? '(missing)';

    assert.equal(reply.header('x-airut-kind'), 'reply', text);
    assert.match(line('key-prefix'), /^rc=0 AKIA/, 'the container sees an access key id of the real shape');
    assert.match(line('put'), /^rc=0 .*status=200/, line('put'));
    assert.match(line('get'), /^rc=0 hello from the sandbox .*status=200/, line('get'));
    assert.match(line('put-unsigned'), /^rc=0 .*status=200/, line('put-unsigned'));
    assert.equal(s3.objects.get('/objects/hello.txt')?.toString(), 'hello from the sandbox\n');
    assert.equal(s3.objects.get('/objects/unsigned.txt')?.toString(), 'hello from the sandbox\n');
    assert.ok(s3.verdicts.length >= 3 && s3.verdicts.every((v) => v.ok && v.kind === 'header'), JSON.stringify(s3.verdicts));
    for (const secret of Object.values(REAL)) assert.ok(!text.includes(secret), 'no real value reaches the reply');

    const db = openTestDb(cfg);
    let rows: Array<{ host: string; method: string; status: number; masked: number; error: string | null }>;
    try {
      rows = db.prepare('SELECT host, method, status, masked, error FROM network_requests WHERE host = ? ORDER BY id').all(BUCKET) as typeof rows;
    } finally {
      db.close();
    }
    assert.deepEqual(
      rows.map((r) => [r.method, r.status, r.masked, r.error]),
      [
        ['PUT', 200, 1, null],
        ['GET', 200, 1, null],
        ['PUT', 200, 1, null],
      ],
    );
  } finally {
    await daemon.stop('SIGTERM');
  }
}

for (const c of runtimeCases()) {
  describe(`with ${c.command}`, { skip: c.skip }, () => {
    before(() => {
      rt = c;
    });
    test('curl --aws-sigv4 in the container reaches a SigV4-verifying server only through re-signing', { timeout: 400_000 }, signedUploads);
  });
}
