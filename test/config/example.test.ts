import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { loadServerConfig } from '../../src/config/load.ts';
import { DEFAULTS } from '../../src/config/defaults.ts';
import { loadSchema } from '../../src/config/schema-validate.ts';
import { EXAMPLE_ENV, messageAt, parse, problemsOf, toYaml, validConfig, validRepo, type Tree } from './fixtures/configs.ts';

const EXAMPLE = new URL('../../config/airut.example.yaml', import.meta.url).pathname;

test('config/airut.example.yaml is valid once its environment variables are set', () => {
  const cfg = loadServerConfig(EXAMPLE, { ...EXAMPLE_ENV });
  assert.deepEqual(Object.keys(cfg.repos), ['airut', 'another-repo', 'm365-repo', 'google-repo']);
  const m365 = cfg.repos['m365-repo']!;
  assert.deepEqual(m365.email.login, {
    kind: 'oauth2',
    provider: 'microsoft',
    grant: 'client_credentials',
    tokenUrl: 'https://login.microsoftonline.com/00000000-1111-2222-3333-444444444444/oauth2/v2.0/token',
    clientId: '55555555-6666-7777-8888-999999999999',
    clientSecret: EXAMPLE_ENV.M365_CLIENT_SECRET,
    refreshToken: null,
    scope: 'https://outlook.office365.com/.default',
    tenantId: '00000000-1111-2222-3333-444444444444',
  });
  assert.equal(m365.trustedAuthservId, '');
  assert.equal(m365.microsoftInternalFallback, true);
  const google = cfg.repos['google-repo']!;
  assert.equal(google.email.login.kind === 'oauth2' && google.email.login.refreshToken, EXAMPLE_ENV.GOOGLE_REFRESH_TOKEN);
  assert.equal(google.email.smtpSecurity, 'tls');
  const airut = cfg.repos.airut!;
  assert.deepEqual(airut.email.login, { kind: 'password', password: EXAMPLE_ENV.EMAIL_PASSWORD_AIRUT });
  assert.equal(airut.secrets.GH_TOKEN, EXAMPLE_ENV.GH_TOKEN_AIRUT);
  assert.equal(airut.maskedSecrets.NPM_TOKEN?.value, EXAMPLE_ENV.NPM_TOKEN_AIRUT);
  assert.equal(airut.signingCredentials.AWS_PROD?.secretAccessKey.value, EXAMPLE_ENV.AWS_SECRET_ACCESS_KEY_AIRUT);
  assert.equal(airut.signingCredentials.AWS_PROD?.sessionToken, null);
  assert.equal(airut.storageDir, path.join(homedir(), 'email-service-storage/airut'));
  assert.equal(airut.email.fromAddress, 'airut@example.com');
  assert.equal(cfg.global.dashboard.baseUrl, 'https://dashboard.example.com');
  assert.equal(cfg.global.databasePath, path.join(homedir(), '.local/share/airut/airut.db'));
  assert.equal(cfg.sourcePath, EXAMPLE);
});

test('the example writes out every key with the value the loader defaults to', () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const fromExample = loadServerConfig(EXAMPLE, { ...EXAMPLE_ENV });
  const g = fromExample.global;
  assert.equal(g.maxConcurrent, DEFAULTS.maxConcurrent);
  assert.equal(g.shutdownTimeoutSeconds, DEFAULTS.shutdownTimeoutSeconds);
  assert.equal(g.conversationMaxAgeDays, DEFAULTS.conversationMaxAgeDays);
  assert.equal(g.dashboard.port, DEFAULTS.dashboardPort);
  assert.equal(g.containerCommand, DEFAULTS.containerCommand);
  for (const key of ['max_concurrent', 'shutdown_timeout', 'conversation_max_age_days', 'image_build_timeout', 'poll_interval', 'use_idle',
    'idle_refresh_interval', 'idle_reconnect_interval', 'microsoft_internal_fallback', 'insecure_skip_verify', 'imap_security', 'smtp_security', 'allowed_models', 'binary', 'auth_token', 'database',
    'max_message_bytes', 'max_attachment_bytes', 'max_attachments', 'tasks_per_hour', 'tasks_per_sender_per_hour']) {
    assert.match(text, new RegExp(`^\\s*${key}:`, 'm'), `the example should show ${key}`);
  }
});

test('a minimal repository gets the documented defaults', () => {
  const cfg = parse(toYaml({ repos: { api: validRepo('api') } }));
  assert.deepEqual(cfg.global, {
    backend: 'container',
    kubernetes: null,
    maxConcurrent: 3,
    shutdownTimeoutSeconds: 60,
    conversationMaxAgeDays: 7,
    imageBuildTimeoutSeconds: 900,
    imageMaxAgeHours: 24,
    resilientStart: false,
    dashboard: { enabled: true, host: '127.0.0.1', port: 5200, baseUrl: null, authToken: null, sessionIdleSeconds: 43_200, sessionLifetimeSeconds: 604_800, hosts: null },
    containerCommand: 'podman',
    containerNetwork: 'default',
    network: { upstreamOverrides: {} },
    databasePath: path.join(homedir(), '.local/share/airut/airut.db'),
    claude: { binaryPath: cfg.global.claude.binaryPath, allowedModels: [] },
    rejectedMail: { maxStoredBytesPerDay: 52_428_800, perSourcePerHour: 20 },
    taskOutput: {
      maxOutboxFileBytes: 10_485_760,
      maxOutboxTotalBytes: 16_777_216,
      maxOutboxFiles: 20,
      maxLineBytes: 4_194_304,
      maxEvents: 10_000,
      maxNetworkRows: 20_000,
      maxKeptFileBytesPerTask: 52_428_800,
    },
  });
  assert.match(cfg.global.claude.binaryPath, /node_modules\/@anthropic-ai\/claude-code-linux-x64\/claude$/);
  const api = cfg.repos.api!;
  assert.deepEqual(api.imap, { pollIntervalSeconds: 30, useIdle: true, idleRefreshIntervalSeconds: 600, idleReconnectIntervalSeconds: 1740 });
  assert.deepEqual(api.limits, {
    maxMessageBytes: 26_214_400,
    maxAttachmentBytes: 20_971_520,
    maxAttachments: 50,
    tasksPerHour: 100,
    tasksPerSenderPerHour: 30,
  });
  assert.equal(api.email.imapPort, 993);
  assert.equal(api.email.smtpPort, 587);
  assert.equal(api.email.imapSecurity, 'tls');
  assert.equal(api.email.smtpSecurity, 'starttls');
  assert.deepEqual(api.network, { sandboxEnabled: true });
  assert.deepEqual(api.secrets, {});
  assert.deepEqual(api.maskedSecrets, {});
  assert.deepEqual(api.signingCredentials, {});
});

test('network: upstream overrides with and without a port, and the per-repo break-glass', () => {
  const tree = validConfig() as Record<string, unknown>;
  tree.network = { upstream_overrides: { 'Api.Internal.Example': '10.0.0.5:8443', 'git.internal': '10.0.0.6', 'v6.internal': '[fd00::1]:443' } };
  (tree.repos as Record<string, Record<string, unknown>>).api!.network = { sandbox_enabled: false };
  const cfg = parse(toYaml(tree));
  assert.deepEqual(cfg.global.network.upstreamOverrides, {
    'api.internal.example': { host: '10.0.0.5', port: 8443 },
    'git.internal': { host: '10.0.0.6', port: null },
    'v6.internal': { host: 'fd00::1', port: 443 },
  });
  assert.equal(cfg.repos.api!.network.sandboxEnabled, false);
  const bad = validConfig() as Record<string, unknown>;
  bad.network = { upstream_overrides: { 'a b': 'x', ok: 'host:port:extra' } };
  assert.throws(() => parse(toYaml(bad)), /network\.upstream_overrides/);
});

test('empty sections (all keys commented out) mean "all defaults"', () => {
  const text = `execution:\ndashboard:\nclaude:\n${toYaml({ repos: { api: validRepo('api') } })}`;
  const cfg = parse(text);
  assert.equal(cfg.global.maxConcurrent, 3);
  assert.equal(cfg.global.dashboard.port, 5200);
});

test('the result is deeply frozen', () => {
  const cfg = parse(toYaml(validConfig()));
  assert.ok(Object.isFrozen(cfg));
  assert.ok(Object.isFrozen(cfg.global.dashboard));
  assert.ok(Object.isFrozen(cfg.repos));
  assert.ok(Object.isFrozen(cfg.repos.api!.email));
  assert.ok(Object.isFrozen(cfg.repos.api!.authorizedSenders));
  assert.throws(() => {
    (cfg.repos.api!.authorizedSenders as string[]).push('evil@example.com');
  }, TypeError);
});

test('paths: ~ is the home directory, relative paths are relative to the config file', () => {
  const tree = validConfig();
  tree.database = 'state/airut.db';
  (tree.repos as Record<string, Record<string, unknown>>).api!.storage_dir = '~/airut/api/';
  (tree.repos as Record<string, Record<string, unknown>>).web!.storage_dir = './storage/../web';
  const cfg = parse(toYaml(tree));
  assert.equal(cfg.global.databasePath, '/etc/airut/state/airut.db');
  assert.equal(cfg.repos.api!.storageDir, path.join(homedir(), 'airut/api'));
  assert.equal(cfg.repos.web!.storageDir, '/etc/airut/web');
});

test('authorized senders are lowercased, claude settings are read', () => {
  const tree = validConfig();
  const api = (tree.repos as Record<string, Record<string, unknown>>).api!;
  api.authorized_senders = ['Admin@Example.COM', '*@Company.com'];
  tree.claude = { binary: '/opt/claude/bin/claude', allowed_models: ['claude-opus-4-1'] };
  const cfg = parse(toYaml(tree));
  assert.deepEqual(cfg.repos.api!.authorizedSenders, ['admin@example.com', '*@company.com']);
  assert.equal(cfg.global.claude.binaryPath, '/opt/claude/bin/claude');
  assert.deepEqual(cfg.global.claude.allowedModels, ['claude-opus-4-1']);
});

test('the JSON schema states the same defaults as the loader', () => {
  const schema = loadSchema() as { properties: Record<string, { properties?: Record<string, { default?: unknown }>; default?: unknown }>; definitions: { repo: { properties: Record<string, { properties?: Record<string, { default?: unknown }> }> } } };
  const top = schema.properties;
  assert.equal(top.execution!.properties!.max_concurrent!.default, DEFAULTS.maxConcurrent);
  assert.equal(top.execution!.properties!.shutdown_timeout!.default, DEFAULTS.shutdownTimeoutSeconds);
  assert.equal(top.execution!.properties!.conversation_max_age_days!.default, DEFAULTS.conversationMaxAgeDays);
  assert.equal(top.execution!.properties!.image_build_timeout!.default, DEFAULTS.imageBuildTimeoutSeconds);
  assert.equal(top.dashboard!.properties!.enabled!.default, DEFAULTS.dashboardEnabled);
  assert.equal(top.dashboard!.properties!.host!.default, DEFAULTS.dashboardHost);
  assert.equal(top.dashboard!.properties!.port!.default, DEFAULTS.dashboardPort);
  assert.equal(top.dashboard!.properties!.session_idle_timeout!.default, DEFAULTS.dashboardSessionIdleSeconds);
  assert.equal(top.dashboard!.properties!.session_lifetime!.default, DEFAULTS.dashboardSessionLifetimeSeconds);
  assert.equal(top.container_command!.default, DEFAULTS.containerCommand);
  assert.equal(top.database!.default, DEFAULTS.databasePath);
  assert.equal(top.rejected_mail!.properties!.max_stored_bytes_per_day!.default, DEFAULTS.rejectedMaxStoredBytesPerDay);
  assert.equal(top.rejected_mail!.properties!.per_source_per_hour!.default, DEFAULTS.rejectedPerSourcePerHour);
  const out = top.task_output!.properties!;
  assert.equal(out.max_outbox_file_bytes!.default, DEFAULTS.maxOutboxFileBytes);
  assert.equal(out.max_outbox_total_bytes!.default, DEFAULTS.maxOutboxTotalBytes);
  assert.equal(out.max_outbox_files!.default, DEFAULTS.maxOutboxFiles);
  assert.equal(out.max_line_bytes!.default, DEFAULTS.maxLineBytes);
  assert.equal(out.max_events!.default, DEFAULTS.maxEvents);
  assert.equal(out.max_network_rows!.default, DEFAULTS.maxNetworkRows);
  assert.equal(out.max_kept_file_bytes_per_task!.default, DEFAULTS.maxKeptFileBytesPerTask);
  assert.equal(top.execution!.properties!.backend!.default, DEFAULTS.executionBackend);
  const kube = top.kubernetes!.properties! as Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }>;
  assert.equal(kube.state_size_limit!.default, DEFAULTS.kubeStateSizeLimit);
  assert.equal(kube.max_state_bytes!.default, DEFAULTS.kubeMaxStateBytes);
  assert.equal(kube.registry_tls_verify!.default, DEFAULTS.kubeRegistryTlsVerify);
  assert.equal(kube.gateway!.properties!.listen_host!.default, DEFAULTS.kubeGatewayListenHost);
  assert.equal(kube.gateway!.properties!.listen_port!.default, DEFAULTS.kubeGatewayListenPort);
  const repo = schema.definitions.repo.properties;
  assert.equal(repo.email!.properties!.imap_port!.default, DEFAULTS.imapPort);
  assert.equal(repo.email!.properties!.smtp_port!.default, DEFAULTS.smtpPort);
  assert.equal(repo.imap!.properties!.poll_interval!.default, DEFAULTS.pollIntervalSeconds);
  assert.equal(repo.imap!.properties!.use_idle!.default, DEFAULTS.useIdle);
  assert.equal(repo.imap!.properties!.idle_reconnect_interval!.default, DEFAULTS.idleReconnectIntervalSeconds);
  const limits = (schema as unknown as { definitions: { limits: { properties: Record<string, { default?: unknown }> } } }).definitions.limits.properties;
  assert.equal(limits.max_message_bytes!.default, DEFAULTS.maxMessageBytes);
  assert.equal(limits.max_attachment_bytes!.default, DEFAULTS.maxAttachmentBytes);
  assert.equal(limits.max_attachments!.default, DEFAULTS.maxAttachments);
  assert.equal(limits.tasks_per_hour!.default, DEFAULTS.tasksPerHour);
  assert.equal(limits.tasks_per_sender_per_hour!.default, DEFAULTS.tasksPerSenderPerHour);
});

test('limits: a repo key overrides the top level, which overrides the default; null means no limit', () => {
  const tree = validConfig();
  tree.limits = { max_message_bytes: 1_000_000, tasks_per_hour: null, max_attachments: 0 };
  const repos = tree.repos as Record<string, Tree>;
  repos.api!.limits = { max_message_bytes: 5_000_000, tasks_per_sender_per_hour: null };
  repos.web!.limits = null;
  const cfg = parse(toYaml(tree));
  assert.deepEqual(cfg.repos.api!.limits, {
    maxMessageBytes: 5_000_000,
    maxAttachmentBytes: DEFAULTS.maxAttachmentBytes,
    maxAttachments: 0,
    tasksPerHour: null,
    tasksPerSenderPerHour: null,
  });
  assert.deepEqual(cfg.repos.web!.limits, {
    maxMessageBytes: 1_000_000,
    maxAttachmentBytes: DEFAULTS.maxAttachmentBytes,
    maxAttachments: 0,
    tasksPerHour: null,
    tasksPerSenderPerHour: DEFAULTS.tasksPerSenderPerHour,
  });
});

test('limits: out-of-range values and unknown keys are named with the path', () => {
  const tree = validConfig();
  tree.limits = { max_message_bytes: 0, tasks_per_hour: 'many' };
  (tree.repos as Record<string, Tree>).api!.limits = { max_attachments: -1, max_attachment: 3 };
  const problems = problemsOf(toYaml(tree));
  assert.equal(messageAt(problems, 'limits.max_message_bytes'), 'must be an integer from 1 to 268435456');
  assert.equal(messageAt(problems, 'limits.tasks_per_hour'), 'must be an integer from 1 to 100000');
  assert.equal(messageAt(problems, 'repos.api.limits.max_attachments'), 'must be an integer from 0 to 100000');
  assert.equal(messageAt(problems, 'repos.api.limits.max_attachment'), 'unknown key (did you mean max_attachments?)');
});

test('an empty file is refused with a pointer to the example', () => {
  const problems = problemsOf('# nothing here\n');
  assert.match(problems[0]!.message, /empty.*config\/airut\.example\.yaml/);
});
