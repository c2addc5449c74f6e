/**
 * Issue 21 end to end: the real daemon with `execution.backend: kubernetes` against the stand-in API
 * server (test/harness/kube/), driven by the real @kubernetes/client-node. The stand-in runs each
 * pod for real with podman (PodmanPodRunner): the tools image and the repository image are built by
 * the daemon, pushed to a real registry (docker-registry) and pulled by digest; the init container
 * fetches the conversation state from the daemon's pod gateway, the agent container runs the real
 * Claude Code CLI against the mock Anthropic API and returns the state. Real Dovecot and SMTP.
 *
 * Scenarios as for podman: a task completes and replies (through the sandbox proxy behind the
 * gateway), a follow-up resumes the session and sees the workspace, Stop, the timeout, the daemon
 * killed mid-task and restarted, and the API server refusing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pod, Secret } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { isAck, readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import { waitUntil, type TestConfig, type TestRepo } from '../harness/daemon-process.ts';
import { freePort } from '../harness/ports.ts';
import { LocalRegistry } from '../harness/registry.ts';
import { KubeStandIn } from '../harness/kube/stand-in.ts';
import { PodmanPodRunner } from '../harness/kube/podman-pod-runner.ts';
import { sandboxedRepoOptions, sandboxedRepoYaml } from '../harness/kube/sandboxed-repo.ts';
import { createTestTls, type TestTls } from '../harness/test-tls.ts';
import { startTlsFront, type TlsFront } from '../harness/tls-front.ts';
import { exitTempDir } from '../harness/temp-dirs.ts';

let env: E2eEnv;
let registry: LocalRegistry;
let standIn: KubeStandIn;
let kubeconfig: string;
let testTls: TestTls;
let mockTls: TlsFront;

before(async () => {
  env = await startE2eEnv({ repoIds: ['kube', 'sbx'] });
  registry = await LocalRegistry.start();
  standIn = await KubeStandIn.start({ runner: new PodmanPodRunner({ tlsVerify: false }) });
  const dir = exitTempDir('airut-kube-e2e-');
  kubeconfig = await standIn.writeKubeconfig(dir);
  testTls = createTestTls();
  mockTls = await startTlsFront(testTls, 'api.mock.test', Number(new URL(env.mock.url).port));
});

after(async () => {
  mockTls?.close();
  await standIn?.close();
  await registry?.close();
  await env?.stop();
});

/** The daemon's global settings for the Kubernetes backend on the stand-in. */
async function kubeGlobal(maxConcurrent: number, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return {
    execution: { backend: 'kubernetes', max_concurrent: maxConcurrent, shutdown_timeout: 5 },
    kubernetes: {
      kubeconfig,
      namespace: standIn.namespace,
      registry: `${registry.address}/airut`,
      registry_tls_verify: false,
      // The stand-in runs pods on the host network: the gateway is on loopback.
      gateway: { listen_host: '127.0.0.1', listen_port: await freePort(), advertise_address: '127.0.0.1' },
    },
    ...extra,
  };
}

/** Objects of this daemon still in the stand-in, by kind. */
function leftovers(): { pods: number; secrets: number; policies: number } {
  return { pods: standIn.objects('pod').length, secrets: standIn.objects('secret').length, policies: standIn.objects('networkpolicy').length };
}

/** Every object the daemon asked the API server to create passes the official schema. */
function assertCreatedObjectsValid(): void {
  assert.ok(standIn.created.length > 0, 'the daemon created objects');
  for (const { kind, body } of standIn.created) {
    const model = kind === 'pod' ? new Pod(body as object) : kind === 'secret' ? new Secret(body as object) : new NetworkPolicy(body as object);
    assert.doesNotThrow(() => model.validate(), `${kind} ${JSON.stringify((body as { metadata?: { name?: string } }).metadata?.name)} is valid`);
  }
}

function podsOfTask(taskId: number): unknown[] {
  return standIn.objects('pod').filter((p) => (p as { metadata?: { labels?: Record<string, string> } }).metadata?.labels?.['airut.dev/task'] === String(taskId));
}

async function kubeRepo(id: string, yaml: string, o: Parameters<E2eEnv['repo']>[2] = {}): Promise<TestRepo> {
  return env.repo(id, yaml, o);
}

test('a sandboxed task runs as a pod: the CLI reaches the API only through the gateway proxy, the reply comes back, nothing is left', { timeout: 600_000 }, async () => {
  const sbx = await kubeRepo('sbx', sandboxedRepoYaml(300), sandboxedRepoOptions);
  const global = await kubeGlobal(2, { network: { upstream_overrides: { 'api.mock.test': `127.0.0.1:${mockTls.port}` } } });
  const { cfg, daemon } = env.daemonWith([sbx], 2, global, { NODE_EXTRA_CA_CERTS: testTls.caPath });
  try {
    const m = await env.send('sbx', 'hello from a pod', '[[bash:echo pod-says-hi > /workspace/note.txt && cat /workspace/note.txt]]');
    const reply = await env.finalReplyTo(m, 400_000);
    assert.match(reply.text ?? '', /pod-says-hi/);
    const task = taskFor(cfg, m)!;
    assert.equal(task.status, 'completed', task.error ?? '');
    // The pod's requests to the API went through the task's proxy and were logged.
    const rows = readDb(cfg, (db) => db.prepare(`SELECT host, allowed FROM network_requests WHERE task_id = ?`).all(task.id) as Array<{ host: string; allowed: number }>) ?? [];
    assert.ok(rows.some((r) => r.host === 'api.mock.test' && r.allowed === 1), `the API calls are in the network log: ${JSON.stringify(rows.slice(0, 5))}`);
    // What the backend created: a Secret per task (env + files), a NetworkPolicy, the pod; all valid, all deleted.
    const kinds = new Set(standIn.created.map((c) => c.kind));
    assert.deepEqual([...kinds].sort(), ['networkpolicy', 'pod', 'secret']);
    assertCreatedObjectsValid();
    const pod = standIn.created.find((c) => c.kind === 'pod')!.body as { spec: { containers: Array<{ env?: Array<{ value?: string }> }> } };
    const podText = JSON.stringify(pod);
    assert.doesNotMatch(podText, /test-key/, 'no secret value in the pod spec');
    assert.doesNotMatch(podText, /pod-says-hi/, 'the prompt is not in the pod spec');
    const policy = standIn.created.find((c) => c.kind === 'networkpolicy')!.body as { spec: { egress: Array<{ to: Array<{ ipBlock: { cidr: string } }> }> } };
    assert.equal(policy.spec.egress[0]!.to[0]!.ipBlock.cidr, '127.0.0.1/32', 'egress only to the gateway');
    await waitUntil(() => (leftovers().pods + leftovers().secrets + leftovers().policies === 0 ? true : undefined), 30_000, 'the task objects to be deleted');
    // The workspace the pod changed came back to the daemon's disk.
    const conv = task.conversation_id!;
    const workspace = path.join(cfg.dir, 'storage', 'sbx', 'conversations', conv, 'workspace', 'note.txt');
    assert.equal(fs.readFileSync(workspace, 'utf8').trim(), 'pod-says-hi');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('a follow-up resumes the session in a new pod and finds the workspace the first pod left', { timeout: 600_000 }, async () => {
  const kube = await kubeRepo('kube', repoYaml({ timeout: 300 }));
  const { cfg, daemon } = env.daemonWith([kube], 2, await kubeGlobal(2));
  try {
    const first = await env.send('kube', 'two steps', '[[bash:echo remembered-value > /workspace/state.txt && echo saved]]');
    const reply = await env.finalReplyTo(first, 400_000);
    assert.match(reply.text ?? '', /saved/);
    const second = await env.send('kube', `Re: ${reply.subject}`, '[[bash:cat /workspace/state.txt]]', { inReplyTo: reply.messageId!, references: [first, reply.messageId!] });
    const reply2 = await env.finalReplyTo(second, 300_000);
    assert.match(reply2.text ?? '', /remembered-value/);
    const t1 = taskFor(cfg, first)!;
    const t2 = taskFor(cfg, second)!;
    assert.equal(t2.conversation_id, t1.conversation_id, 'one conversation');
    assert.equal(t2.session_id, t1.session_id, 'the session was resumed');
    assert.ok(env.mock.messageRequests().length > 0);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('Stop deletes the pod; the timeout deletes the pod; each task gets its answer and nothing is left', { timeout: 600_000 }, async () => {
  const kube = await kubeRepo('kube', repoYaml({ timeout: 40 }));
  const port = await freePort();
  const token = 'dashboard-test-token-0123456789abcdef';
  const { cfg, daemon } = env.daemonWith([kube], 2, await kubeGlobal(2, { dashboard: { enabled: true, host: '127.0.0.1', port, auth_token: token } }));
  const api = (p: string, init: RequestInit = {}) => fetch(`http://127.0.0.1:${port}${p}`, { ...init, headers: { authorization: `Bearer ${token}` } });
  try {
    const stopped = await env.send('kube', 'runaway to stop', '[[sleep:600000]] never ends');
    const timed = await env.send('kube', 'runaway to time out', '[[sleep:600000]] never ends either');
    const stoppedId = await waitUntil(() => {
      const t = taskFor(cfg, stopped);
      return t?.status === 'running' && podsOfTask(t.id).length > 0 ? t.id : undefined;
    }, 300_000, 'the first task to run in a pod');
    // Let the agent get going, so the stop interrupts a real run.
    await new Promise((r) => setTimeout(r, 3000));
    const res = await api(`/api/tasks/${stoppedId}/stop`, { method: 'POST' });
    assert.equal(res.status, 200, await res.clone().text());
    const notice = await env.finalReplyTo(stopped, 120_000);
    assert.match(notice.text ?? '', /stopped/i);
    await waitUntil(() => (taskFor(cfg, stopped)?.status === 'cancelled' ? true : undefined), 60_000, 'the task to be cancelled');
    await waitUntil(() => (podsOfTask(stoppedId).length === 0 ? true : undefined), 60_000, 'the stopped pod to be gone');

    const timeoutReply = await env.finalReplyTo(timed, 300_000);
    assert.match(timeoutReply.text ?? '', /time|limit/i);
    const t = taskFor(cfg, timed)!;
    assert.match(t.status, /timeout|failed/);
    await waitUntil(() => (leftovers().pods + leftovers().secrets + leftovers().policies === 0 ? true : undefined), 60_000, 'every task object to be deleted');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('the daemon killed mid-task: at restart its pods, Secrets and policies are removed and the task runs once more, with one reply', { timeout: 600_000 }, async () => {
  const kube = await kubeRepo('kube', repoYaml({ timeout: 300 }));
  const global = await kubeGlobal(1);
  const { cfg, daemon } = env.daemonWith([kube], 1, global);
  let again: ReturnType<E2eEnv['restart']> | null = null;
  try {
    const m = await env.send('kube', 'survive a crash', '[[sleep:15000]] [[bash:echo after-the-crash]]');
    const taskId = await waitUntil(() => {
      const t = taskFor(cfg, m);
      return t?.status === 'running' && podsOfTask(t.id).length > 0 ? t.id : undefined;
    }, 300_000, 'the task to run in a pod');
    await daemon.stop('SIGKILL');
    assert.ok(podsOfTask(taskId).length > 0, 'the pod outlives the daemon, as on a cluster');
    const deletesBefore = standIn.requests.get('delete pod') ?? 0;
    again = env.restart(cfg);
    const reply = await env.finalReplyTo(m, 400_000);
    assert.match(reply.text ?? '', /after-the-crash/);
    assert.ok((standIn.requests.get('delete pod') ?? 0) > deletesBefore, 'the orphan pod was deleted');
    assert.ok(again.logs.some((l) => /left by a previous process/.test(l.msg)), 'the reaping is logged');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(env.finalRepliesTo(m).length, 1, 'exactly one final reply');
    assert.equal(env.repliesTo(m).filter(isAck).length, 1, 'exactly one acknowledgement');
    assert.equal(taskFor(cfg, m)?.status, 'completed');
    await waitUntil(() => (leftovers().pods + leftovers().secrets + leftovers().policies === 0 ? true : undefined), 60_000, 'every task object to be deleted');
    assert.equal(await again.stop('SIGTERM'), 0);
  } finally {
    await again?.stop('SIGKILL');
    await daemon.stop('SIGKILL');
  }
});

test('the API server refusing the pod (quota exceeded) gives the task a clear error and creates nothing that stays', { timeout: 600_000 }, async () => {
  const kube = await kubeRepo('kube', repoYaml({ timeout: 120 }));
  const { cfg, daemon } = env.daemonWith([kube], 1, await kubeGlobal(1));
  try {
    standIn.failNext(
      { verb: 'create', kind: 'pod' },
      { status: 403, reason: 'Forbidden', message: 'pods "x" is forbidden: exceeded quota: airut-quota, requested: limits.memory=2Gi, used: limits.memory=8Gi, limited: limits.memory=8Gi' },
    );
    const m = await env.send('kube', 'over quota', '[[bash:echo should-not-run]]');
    const reply = await env.finalReplyTo(m, 400_000);
    const task = taskFor(cfg, m)!;
    assert.equal(task.status, 'failed');
    assert.match(task.error ?? '', /exceeded quota/);
    assert.match(task.error ?? '', /create pod/i);
    assert.doesNotMatch(reply.text ?? '', /should-not-run/);
    await waitUntil(() => (leftovers().pods + leftovers().secrets + leftovers().policies === 0 ? true : undefined), 30_000, 'the Secret created before the refusal to be deleted');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
