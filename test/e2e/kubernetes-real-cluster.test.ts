/**
 * Opt-in: the end-to-end scenarios of test/e2e/kubernetes.test.ts against a REAL cluster. Skipped
 * unless KUBECONFIG is set, with (docs/scale-out.md, "Against a real cluster"):
 *   AIRUT_KUBE_NAMESPACE        a namespace with deploy/kubernetes/rbac.yaml applied
 *   AIRUT_KUBE_REGISTRY         a registry this host can push to and the cluster can pull from
 *   AIRUT_KUBE_GATEWAY_ADDRESS  this host's IP as pods reach it (the gateway listens on 0.0.0.0)
 *   AIRUT_KUBE_REGISTRY_INSECURE=1  when the registry speaks plain HTTP
 * Dovecot, SMTP and the mock Anthropic API run here; pods reach the mock only through the daemon's
 * proxy (sandbox on, `upstream_overrides`), so the NetworkPolicy's single egress rule is enough.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { freePort } from '../harness/ports.ts';
import { sandboxedRepoOptions, sandboxedRepoYaml } from '../harness/kube/sandboxed-repo.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { KubeApi } from '../../src/sandbox/kubernetes/kube-api.ts';
import { instanceSelector } from '../../src/sandbox/kubernetes/task-objects.ts';
import { instanceId } from '../../src/instance-id.ts';

const cluster = process.env.KUBECONFIG
  ? {
      kubeconfig: process.env.KUBECONFIG,
      namespace: process.env.AIRUT_KUBE_NAMESPACE ?? '',
      registry: process.env.AIRUT_KUBE_REGISTRY ?? '',
      gateway: process.env.AIRUT_KUBE_GATEWAY_ADDRESS ?? '',
      insecure: process.env.AIRUT_KUBE_REGISTRY_INSECURE === '1',
    }
  : null;
const skip = cluster === null ? 'KUBECONFIG is not set: the real-cluster suite is opt-in (docs/scale-out.md)' : false;

let env: E2eEnv;
let testTls: TestTls;
let mockTls: TlsFront;

before(async () => {
  if (!cluster) return;
  for (const [k, v] of Object.entries({ AIRUT_KUBE_NAMESPACE: cluster.namespace, AIRUT_KUBE_REGISTRY: cluster.registry, AIRUT_KUBE_GATEWAY_ADDRESS: cluster.gateway })) {
    if (!v) throw new Error(`${k} must be set for the real-cluster suite (docs/scale-out.md)`);
  }
  env = await startE2eEnv({ repoIds: ['realk'] });
  testTls = createTestTls();
  mockTls = await startTlsFront(testTls, 'api.mock.test', Number(new URL(env.mock.url).port));
});

after(async () => {
  mockTls?.close();
  await env?.stop();
});

async function startDaemon(extra: Record<string, unknown> = {}) {
  const c = cluster!;
  const repo = await env.repo('realk', sandboxedRepoYaml(600), sandboxedRepoOptions);
  const global = {
    execution: { backend: 'kubernetes', max_concurrent: 2, shutdown_timeout: 20 },
    kubernetes: {
      kubeconfig: c.kubeconfig,
      namespace: c.namespace,
      registry: c.registry,
      registry_tls_verify: !c.insecure,
      gateway: { listen_host: '0.0.0.0', listen_port: await freePort(), advertise_address: c.gateway },
    },
    network: { upstream_overrides: { 'api.mock.test': `127.0.0.1:${mockTls.port}` } },
    ...extra,
  };
  return env.daemonWith([repo], 2, global, { NODE_EXTRA_CA_CERTS: testTls.caPath });
}

async function objectsLeft(dbPath: string): Promise<number> {
  const api = KubeApi.connect({ kubeconfigPath: cluster!.kubeconfig, context: null, namespace: cluster!.namespace });
  const selector = instanceSelector(instanceId(dbPath));
  let n = 0;
  for (const kind of ['pod', 'secret', 'networkpolicy'] as const) n += (await api.list(kind, selector)).length;
  return n;
}

test('real cluster: a task completes and replies, its follow-up resumes the session and sees the workspace, nothing is left', { skip, timeout: 1_800_000 }, async () => {
  const { cfg, daemon } = await startDaemon();
  try {
    const first = await env.send('realk', 'on a real cluster', '[[bash:echo cluster-value > /workspace/v.txt && cat /workspace/v.txt]]');
    const reply = await env.finalReplyTo(first, 900_000);
    assert.match(reply.text ?? '', /cluster-value/);
    const second = await env.send('realk', `Re: ${reply.subject}`, '[[bash:cat /workspace/v.txt]]', { inReplyTo: reply.messageId!, references: [first, reply.messageId!] });
    const reply2 = await env.finalReplyTo(second, 900_000);
    assert.match(reply2.text ?? '', /cluster-value/);
    assert.equal(taskFor(cfg, second)?.session_id, taskFor(cfg, first)?.session_id);
    await waitUntil(async () => ((await objectsLeft(cfg.dbPath)) === 0 ? true : undefined), 120_000, 'the task objects to be deleted');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('real cluster: Stop deletes the pod and the sender is told', { skip, timeout: 1_800_000 }, async () => {
  const port = await freePort();
  const token = 'dashboard-test-token-0123456789abcdef';
  const { cfg, daemon } = await startDaemon({ dashboard: { enabled: true, host: '127.0.0.1', port, auth_token: token } });
  try {
    const m = await env.send('realk', 'to stop', '[[sleep:900000]] never ends');
    const taskId = await waitUntil(() => (taskFor(cfg, m)?.status === 'running' ? taskFor(cfg, m)!.id : undefined), 900_000, 'the task to run');
    await new Promise((r) => setTimeout(r, 20_000));
    const res = await fetch(`http://127.0.0.1:${port}/api/tasks/${taskId}/stop`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const notice = await env.finalReplyTo(m, 300_000);
    assert.match(notice.text ?? '', /stopped/i);
    await waitUntil(async () => ((await objectsLeft(cfg.dbPath)) === 0 ? true : undefined), 120_000, 'the task objects to be deleted');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
