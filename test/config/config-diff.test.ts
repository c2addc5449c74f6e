/**
 * The reload plan: what changed, by scope, and which running values are kept until a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDiff, isEmptyDiff, planReload } from '../../src/config/config-diff.ts';
import { parse, toYaml, validConfig, type Tree } from './fixtures/configs.ts';

function edit(change: (t: Tree & { repos: Record<string, Tree & { email: Tree }> }) => void) {
  const before = parse(toYaml(validConfig()));
  const tree = structuredClone(validConfig()) as Tree & { repos: Record<string, Tree & { email: Tree }> };
  change(tree);
  return { before, plan: planReload(before, parse(toYaml(tree))) };
}

test('the same file: nothing to apply', () => {
  const { plan } = edit(() => {});
  assert.ok(isEmptyDiff(plan.diff));
  assert.deepEqual(plan.diff.needsRestart, []);
  assert.deepEqual(describeDiff(plan.diff), { applied: [], waiting: [] });
});

test('a repository added and one removed', () => {
  const { plan } = edit((t) => {
    delete t.repos.web;
    t.repos.docs = structuredClone(t.repos.api!);
    t.repos.docs.storage_dir = '/srv/airut/docs';
    t.repos.docs.email.username = 'docs';
  });
  assert.deepEqual(plan.diff.reposAdded, ['docs']);
  assert.deepEqual(plan.diff.reposRemoved, ['web']);
  assert.deepEqual(plan.diff.listenerRestart, []);
  assert.deepEqual(plan.diff.perTask, []);
  assert.deepEqual(Object.keys(plan.effective.repos).sort(), ['api', 'docs']);
});

const cases: Array<{ name: string; change: (t: Tree & { repos: Record<string, Tree & { email: Tree }> }) => void; scope: 'restart' | 'update' | 'task' }> = [
  { name: 'IMAP server', change: (t) => (t.repos.api!.email.imap_server = 'imap.example.org'), scope: 'restart' },
  { name: 'password', change: (t) => (t.repos.api!.email.password = 'rotated-password'), scope: 'restart' },
  { name: 'poll interval', change: (t) => (t.repos.api!.imap = { poll_interval: 5 }), scope: 'restart' },
  { name: 'authorized senders', change: (t) => (t.repos.api!.authorized_senders = ['bob@example.com']), scope: 'update' },
  { name: 'trusted authserv-id', change: (t) => (t.repos.api!.trusted_authserv_id = 'mx.example.com'), scope: 'update' },
  { name: 'message size limit', change: (t) => (t.repos.api!.limits = { max_message_bytes: 1000 }), scope: 'restart' },
  { name: 'attachment limit', change: (t) => (t.repos.api!.limits = { max_attachments: 2 }), scope: 'update' },
  { name: 'secrets', change: (t) => (t.repos.api!.secrets = { TOKEN: 'value-of-token' }), scope: 'task' },
  { name: 'tasks per hour', change: (t) => (t.repos.api!.limits = { tasks_per_hour: 3 }), scope: 'task' },
  { name: 'pod resources', change: (t) => (t.repos.api!.kubernetes = { resources: { limits: { memory: '8Gi' } }, run_as_user: 1000 }), scope: 'task' },
  { name: 'git URL', change: (t) => ((t.repos.api!.git as Tree).repo_url = 'https://github.com/example/other.git'), scope: 'task' },
];

for (const c of cases) {
  test(`a repository's ${c.name} changed: scope ${c.scope}, other repositories untouched`, () => {
    const { plan } = edit(c.change);
    assert.deepEqual(plan.diff.listenerRestart, c.scope === 'restart' ? ['api'] : []);
    assert.deepEqual(plan.diff.listenerUpdate, c.scope === 'update' ? ['api'] : []);
    assert.deepEqual(plan.diff.perTask, ['api'], 'the runner reads the new repository settings with the next task');
    assert.deepEqual([plan.diff.reposAdded, plan.diff.reposRemoved, plan.diff.needsRestart], [[], [], []]);
    assert.equal(plan.diff.maxConcurrent, null);
  });
}

test('an SMTP change is named, so the mail sender drops its old connection', () => {
  const { plan } = edit((t) => (t.repos.web!.email.smtp_server = 'smtp.example.org'));
  assert.deepEqual(plan.diff.smtpChanged, ['web']);
  assert.deepEqual(plan.diff.listenerRestart, [], 'the listener does not use SMTP');
});

test('max_concurrent, shutdown_timeout and dashboard settings apply; database and container_command wait for a restart', () => {
  const { before, plan } = edit((t) => {
    t.execution = { max_concurrent: 7, shutdown_timeout: 5 };
    t.dashboard = { port: 9999, auth_token: 'a-new-dashboard-token-0123456789abcdef', base_url: 'https://airut.example.com' };
    t.database = '/var/lib/elsewhere/airut.db';
    t.container_command = 'docker';
  });
  assert.deepEqual(plan.diff.maxConcurrent, { from: 3, to: 7 });
  assert.deepEqual(plan.diff.globalLive, ['execution.shutdown_timeout']);
  assert.deepEqual([...plan.diff.dashboard].sort(), ['dashboard.auth_token', 'dashboard.port']);
  assert.deepEqual([...plan.diff.needsRestart].sort(), ['container_command', 'dashboard.base_url', 'database']);
  // The running values are kept for what waits; the rest is the new file.
  assert.equal(plan.effective.global.databasePath, before.global.databasePath);
  assert.equal(plan.effective.global.containerCommand, before.global.containerCommand);
  assert.equal(plan.effective.global.dashboard.baseUrl, before.global.dashboard.baseUrl);
  assert.equal(plan.effective.global.dashboard.port, 9999);
  assert.equal(plan.effective.global.maxConcurrent, 7);
  assert.ok(Object.isFrozen(plan.effective.global.dashboard));
  const text = describeDiff(plan.diff);
  assert.ok(text.applied.some((l) => l.includes('max_concurrent 3 → 7')));
  assert.ok(text.waiting[0]?.startsWith('needs a restart (running value kept): '));
  assert.ok(!JSON.stringify(text).includes('a-new-dashboard-token-0123456789abcdef'), 'the description names keys, never values');
});

test("a repository's storage_dir waits for a restart; its other changes apply", () => {
  const { before, plan } = edit((t) => {
    t.repos.api!.storage_dir = '/srv/elsewhere/api';
    t.repos.api!.authorized_senders = ['bob@example.com'];
  });
  assert.deepEqual(plan.diff.needsRestart, ['repos.api.storage_dir']);
  assert.equal(plan.effective.repos.api!.storageDir, before.repos.api!.storageDir);
  assert.deepEqual(plan.effective.repos.api!.authorizedSenders, ['bob@example.com']);
  assert.deepEqual(plan.diff.listenerUpdate, ['api']);
});

test('a second reload of a file whose restart-only change still waits reports it again and applies nothing else', () => {
  const first = edit((t) => (t.database = '/var/lib/elsewhere/airut.db'));
  const again = planReload(first.plan.effective, parse(toYaml({ ...validConfig(), database: '/var/lib/elsewhere/airut.db' })));
  assert.ok(isEmptyDiff(again.diff));
  assert.deepEqual(again.diff.needsRestart, ['database']);
});

test('execution.backend and the kubernetes section wait for a restart, the running values kept', () => {
  const kube = { namespace: 'airut', registry: 'registry.example.com/airut', gateway: { advertise_address: '10.0.0.5' } };
  const { before, plan } = edit((t) => {
    t.execution = { backend: 'kubernetes' };
    t.kubernetes = kube;
  });
  assert.deepEqual([...plan.diff.needsRestart].sort(), ['execution.backend', 'kubernetes']);
  assert.equal(plan.effective.global.backend, 'container');
  assert.equal(plan.effective.global.kubernetes, before.global.kubernetes);
  assert.ok(isEmptyDiff(plan.diff));

  // Between two kubernetes files: a changed namespace waits too.
  const running = parse(toYaml({ ...validConfig(), execution: { backend: 'kubernetes' }, kubernetes: kube }));
  const next = parse(toYaml({ ...validConfig(), execution: { backend: 'kubernetes' }, kubernetes: { ...kube, namespace: 'other' } }));
  const again = planReload(running, next);
  assert.deepEqual(again.diff.needsRestart, ['kubernetes']);
  assert.equal(again.effective.global.kubernetes!.namespace, 'airut');
});
