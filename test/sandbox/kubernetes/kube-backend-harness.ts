/**
 * What the KubernetesBackend unit tests share: the stand-in API server, the daemon's pod gateway on a
 * free port, a backend wired to both (tools image given as a digest reference, so nothing is built),
 * and builders for run requests and for a scripted pod's talk with the gateway.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import tar from 'tar-stream';
import { ensureCaFiles } from '../../../src/proxy/certificate-authority.ts';
import { EMPTY_ALLOWLIST } from '../../../src/proxy/allowlist.ts';
import { ContainerRuntime } from '../../../src/sandbox/container-runtime.ts';
import type { AgentEvent, AgentRunRequest, CommandRunRequest, SandboxedNetworkRequest } from '../../../src/sandbox/execution-backend.ts';
import { KubernetesBackend } from '../../../src/sandbox/kubernetes/kubernetes-backend.ts';
import { PodGateway } from '../../../src/sandbox/kubernetes/pod-gateway.ts';
import type { KubernetesSettings } from '../../../src/sandbox/kubernetes/settings.ts';
import type { SandboxGlobals } from '../../../src/sandbox/task-network.ts';
import { captureLog } from '../../harness/capture-log.ts';
import { KubeStandIn } from '../../harness/kube/stand-in.ts';
import type { PodRunContext } from '../../harness/kube/pod-runner.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';

export const IMAGE = `registry.test/airut/repo@sha256:${'a'.repeat(64)}`;
export const TOOLS = `registry.test/airut/tools@sha256:${'b'.repeat(64)}`;
export const INSTANCE = 'utest';
export const MAX_STATE_BYTES = 4 * 1024 * 1024;

export interface KubeBackendEnv {
  readonly standIn: KubeStandIn;
  readonly gateway: PodGateway;
  readonly backend: KubernetesBackend;
  readonly settings: KubernetesSettings;
  readonly sandbox: SandboxGlobals;
  readonly root: string;
  readonly log: ReturnType<typeof captureLog>['log'];
  close(): Promise<void>;
}

export async function startKubeBackendEnv(): Promise<KubeBackendEnv> {
  const root = exitTempDir('airut-kube-backend-');
  const stateDir = path.join(root, 'sandbox');
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const { log } = captureLog();
  const standIn = await KubeStandIn.start();
  const kubeconfig = await standIn.writeKubeconfig(root);
  const gateway = await PodGateway.start({ host: '127.0.0.1', port: 0, stateDir, maxStateBytes: MAX_STATE_BYTES, log });
  const sandbox: SandboxGlobals = {
    stateDir,
    caFiles: ensureCaFiles(path.join(stateDir, 'ca')),
    sidecar: { rootfs: path.join(stateDir, 'unused-rootfs'), binds: [] },
    upstreamOverrides: {},
  };
  const settings: KubernetesSettings = {
    connection: { kubeconfigPath: kubeconfig, context: null, namespace: standIn.namespace },
    registry: 'registry.test/airut',
    registryTlsVerify: false,
    imagePullSecrets: [],
    runtimeClassName: null,
    nodeSelector: {},
    tolerations: [],
    stateSizeLimit: '1Gi',
    maxStateBytes: MAX_STATE_BYTES,
    gateway: { listenHost: '127.0.0.1', listenPort: gateway.port, advertiseAddress: '127.0.0.1' },
  };
  const backend = new KubernetesBackend({
    // Never run: the images are given as digest references.
    runtime: new ContainerRuntime({ command: '/nonexistent/podman' }),
    instance: INSTANCE,
    claudeBinaryPath: '/nonexistent/claude',
    capacity: 4,
    settings,
    sandbox,
    toolsImage: TOOLS,
  });
  return {
    standIn, gateway, backend, settings, sandbox, root, log,
    async close() {
      await gateway.close();
      await standIn.close();
    },
  };
}

/** Fresh conversation directories with one workspace file. */
export async function conversationDirs(root: string, name: string): Promise<AgentRunRequest['mounts']> {
  const base = path.join(root, 'conv', name);
  const mounts = { workspace: path.join(base, 'workspace'), claudeState: path.join(base, 'claude'), inbox: path.join(base, 'inbox'), outbox: path.join(base, 'outbox'), storage: path.join(base, 'storage') };
  for (const d of Object.values(mounts)) await fs.mkdir(d, { recursive: true });
  await fs.writeFile(path.join(mounts.workspace, 'before.txt'), 'from the host\n');
  return mounts;
}

export async function agentRequest(env: KubeBackendEnv, taskId: number, over: Partial<AgentRunRequest> = {}): Promise<AgentRunRequest> {
  return {
    taskId,
    labels: { repo: 'api', conversation: `conv${taskId}` },
    image: IMAGE,
    mounts: await conversationDirs(env.root, `t${taskId}`),
    model: 'claude-sonnet-4-5',
    resumeSessionId: null,
    prompt: `PROMPT-${taskId}-only-in-the-bundle`,
    env: { API_KEY: `sk-secret-${taskId}` },
    network: await env.backend.openNetwork(null),
    timeoutMs: 60_000,
    ...over,
  };
}

export async function commandRequest(env: KubeBackendEnv, taskId: number, over: Partial<CommandRunRequest> = {}): Promise<CommandRunRequest> {
  const mounts = await conversationDirs(env.root, `c${taskId}`);
  return {
    taskId,
    labels: { repo: 'api', conversation: `conv${taskId}` },
    image: IMAGE,
    workspace: mounts.workspace,
    command: 'echo hello',
    env: {},
    network: await env.backend.openNetwork(null),
    timeoutMs: 60_000,
    outputLimitBytes: 1024,
    ...over,
  };
}

export function sandboxedRequest(env: KubeBackendEnv, taskId: number): SandboxedNetworkRequest {
  return { taskId, labels: { repo: 'api', conversation: `conv${taskId}` }, allowlist: EMPTY_ALLOWLIST, masks: [], log: env.log, storeLogRows: () => 0 };
}

/** Collects the events a run delivers. */
export function eventSink(): { events: AgentEvent[]; onEvent: (e: AgentEvent) => void } {
  const events: AgentEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

/** What the stand-in holds of this test's task (by label). */
export function objectsOfTask(standIn: KubeStandIn, taskId: number, instance = INSTANCE): string[] {
  const out: string[] = [];
  for (const kind of ['pod', 'secret', 'networkpolicy'] as const) {
    for (const o of standIn.objects(kind) as Array<{ metadata: { name: string; labels?: Record<string, string> } }>) {
      const l = o.metadata.labels ?? {};
      if (l['airut.dev/task'] === String(taskId) && l['airut.dev/instance'] === instance) out.push(`${kind}/${o.metadata.name}`);
    }
  }
  return out;
}

/** The bodies a client asked the stand-in to create for one task. */
export function createdForTask(standIn: KubeStandIn, taskId: number): Array<{ kind: string; body: { metadata: { name: string; labels: Record<string, string> } } & Record<string, unknown> }> {
  return standIn.created.filter((c) => (c.body as { metadata?: { labels?: Record<string, string> } }).metadata?.labels?.['airut.dev/task'] === String(taskId)) as never;
}

/** How a scripted pod reaches the gateway: from its init container's env and its Secret, as pod-entry.sh does. */
export function gatewayOf(ctx: PodRunContext): { host: string; port: number; task: string; token: string } {
  const vars = ctx.pod.spec?.initContainers?.[0]?.env ?? [];
  const value = (n: string): string => {
    const v = vars.find((e) => e.name === n);
    if (v?.value !== undefined) return v.value;
    const ref = v?.valueFrom?.secretKeyRef;
    return (ref ? ctx.secret(ref.name ?? '')?.[ref.key ?? ''] : undefined) ?? '';
  };
  const hostPort = value('AIRUT_GATEWAY');
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)), task: value('AIRUT_TASK'), token: value('AIRUT_GATEWAY_TOKEN') };
}

/** POSTs a returned state to the gateway as pod-entry.sh does; the HTTP status. */
export function postState(ctx: PodRunContext, body: Buffer): Promise<number> {
  const g = gatewayOf(ctx);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: g.host, port: g.port, method: 'POST', path: `/airut-state/${g.task}/${g.token}/out`, headers: { 'content-length': body.length }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A tar of the given entries (files unless `type` says otherwise), as raw as a hostile pod would send it. */
export async function rawTar(entries: Array<{ name: string; body?: string; type?: 'file' | 'directory' | 'symlink' | 'link'; linkname?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', resolve));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') pack.entry({ name: e.name, mode: 0o644 }, e.body ?? '');
    else pack.entry({ name: e.name, type, mode: 0o755, ...(e.linkname ? { linkname: e.linkname } : {}) });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Resolves once the signal aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** The pod object as stored by the stand-in (null when gone). */
export function storedPod(standIn: KubeStandIn, name: string): V1Pod | null {
  return ((standIn.objects('pod') as V1Pod[]).find((p) => p.metadata?.name === name) ?? null);
}

/** Lists every file of a directory tree with its content, for before/after comparisons. */
export async function treeOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath, e.name);
    if (e.isFile()) out[path.relative(dir, p)] = await fs.readFile(p, 'utf8');
  }
  return out;
}
