/**
 * The slice of a repository's configuration a listener thread receives: what it reads, and none
 * of the repository's secrets (plain, masked or signing) however they are serialized.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { listenerConfig } from '../../src/protocol/listener.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

const SECRET_VALUES = {
  plain: 'plain-secret-3f9a1c',
  masked: 'masked-secret-7b2e44',
  accessKeyId: 'AKIA-signing-51d0',
  secretAccessKey: 'signing-secret-a8c3f2',
  sessionToken: 'signing-session-e61b09',
};

const repo = testRepoServerConfig('api', {
  gitRepoUrl: 'https://git.example.com/api.git',
  storageDir: '/srv/airut/storage-of-api',
  email: { imapServer: 'imap.example.com', imapPort: 993, imapSecurity: 'tls', username: 'api-bot', login: { kind: 'password', password: 'imap-password-0c4d' } },
  authorizedSenders: ['alice@example.com', '*@corp.example'],
  trustedAuthservId: 'mx.example.com',
  imap: { pollIntervalSeconds: 45, useIdle: false, idleRefreshIntervalSeconds: 300, idleReconnectIntervalSeconds: 600 },
  limits: { maxMessageBytes: 1000, maxAttachmentBytes: 300, maxAttachments: 2, tasksPerHour: 7, tasksPerSenderPerHour: 3 },
  secrets: { GH_TOKEN: SECRET_VALUES.plain },
  maskedSecrets: { API_KEY: { value: SECRET_VALUES.masked, scopes: ['api.example.com'], headers: ['Authorization'], allowForeignCredentials: false } },
  signingCredentials: {
    AWS: {
      type: 'aws-sigv4',
      accessKeyId: { name: 'AWS_ACCESS_KEY_ID', value: SECRET_VALUES.accessKeyId },
      secretAccessKey: { name: 'AWS_SECRET_ACCESS_KEY', value: SECRET_VALUES.secretAccessKey },
      sessionToken: { name: 'AWS_SESSION_TOKEN', value: SECRET_VALUES.sessionToken },
      scopes: ['*.amazonaws.com'],
    },
  },
});

test("a listener's slice holds its inbox, its screening rules and its size limits", () => {
  assert.deepEqual(listenerConfig(repo), {
    repoId: 'api',
    imap: {
      host: 'imap.example.com',
      port: 993,
      security: 'tls',
      username: 'api-bot',
      configPath: 'repos.api.email',
      login: { kind: 'password', password: 'imap-password-0c4d' },
      tls: { caFile: null, caPem: null, insecureSkipVerify: false },
      useIdle: false,
      pollIntervalMs: 45_000,
      idleRefreshIntervalMs: 300_000,
      idleReconnectIntervalMs: 600_000,
    },
    screening: {
      fromAddress: 'api-bot@repo.example',
      trustedAuthservId: 'mx.example.com',
      microsoftInternalFallback: false,
      authorizedSenders: ['alice@example.com', '*@corp.example'],
    },
    limits: { maxMessageBytes: 1000, maxAttachmentBytes: 300, maxAttachments: 2 },
  });
});

test("a listener's workerData slice holds no secret value, however it is serialized", () => {
  const slice = listenerConfig(repo);
  // What crosses to the thread is a structured clone; JSON covers what a log line would show.
  const forms = { structuredClone: v8.serialize(slice).toString('latin1'), json: JSON.stringify(slice) };
  for (const [form, text] of Object.entries(forms)) {
    // The check can see values: the IMAP password (which the listener needs) is there.
    assert.ok(text.includes('imap-password-0c4d'), `${form}: the IMAP password is in the slice`);
    for (const [kind, value] of Object.entries(SECRET_VALUES)) {
      assert.ok(!text.includes(value), `${form}: the ${kind} secret value must not reach the listener thread`);
    }
    for (const name of ['GH_TOKEN', 'API_KEY', 'AWS_SECRET_ACCESS_KEY']) {
      assert.ok(!text.includes(name), `${form}: not even the secret's name ${name}`);
    }
    for (const other of ['/srv/airut/storage-of-api', 'git.example.com', 'smtp']) {
      assert.ok(!text.includes(other), `${form}: nothing the listener does not read (${other})`);
    }
  }
});
