/**
 * The network a task's container gets. With the sandbox on: the conversation proxy (in this
 * thread), the loopback-only sidecar in front of it, the container settings that route everything
 * through them, and the request log handed to the caller's `storeLogRows` in batches (the sandbox
 * never touches the database). With the sandbox off: the configured container network and nothing else.
 *
 * `close()` tears everything down and is safe to call twice; whatever a crash leaves behind (a
 * sidecar container, a task directory with sockets) is removed at the next start-up
 * (see `cleanupSandboxLeftovers`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { listedHostPatterns, type Allowlist } from '../proxy/allowlist.ts';
import { CertificateAuthority, type CaFiles } from '../proxy/certificate-authority.ts';
import { ConversationProxy, type NetworkLogEntry, type UpstreamOverride } from '../proxy/conversation-proxy.ts';
import type { MaskRule } from '../proxy/masked-secrets.ts';
import type { SigningRule } from '../proxy/sigv4-surrogates.ts';
import type { Logger } from '../log/logger.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { envFileDir, startNetworkSidecar, taskSandboxDir, type SidecarRuntime } from './network-sidecar.ts';

/** Where the CA certificate is inside task containers. */
export const CONTAINER_CA_PATH = '/etc/airut/ca.crt';
const PROXY_URL = 'http://127.0.0.1:3128';
const LOG_FLUSH_MS = 250;
const LOG_FLUSH_ROWS = 200;

/** What the daemon prepared at start-up for every task's sandbox. Structured-cloneable. */
export interface SandboxGlobals {
  readonly stateDir: string;
  readonly caFiles: CaFiles;
  readonly sidecar: SidecarRuntime;
  readonly upstreamOverrides: Readonly<Record<string, UpstreamOverride>>;
  /**
   * Kubernetes backend: the tools image (by digest) the daemon published at start-up, so runner
   * threads do not each hash, build and push ~400 MB; unset when that failed (a thread then tries).
   */
  readonly kubeToolsImage?: string;
}

export interface TaskNetwork {
  readonly sandboxed: boolean;
  /** `--network` value for the task container. */
  readonly network: string;
  /** Extra `run` flags (mounts of resolv.conf and the CA certificate). */
  readonly extraArgs: readonly string[];
  /** Non-secret environment the sandbox sets; wins over container_env entries of the same name. */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

/** The container's own network, for repositories with the sandbox off. */
export function unsandboxedNetwork(containerNetwork: string): TaskNetwork {
  return { sandboxed: false, network: containerNetwork, extraArgs: [], env: {}, close: async () => undefined };
}

export interface SandboxedNetworkSpec {
  readonly runtime: ContainerRuntime;
  readonly globals: SandboxGlobals;
  readonly log: Logger;
  readonly taskId: number;
  /** Stores a batch of request log rows (the caller's database) and returns the id of the last one. */
  readonly storeLogRows: (rows: readonly NetworkLogEntry[]) => number;
  /** Name of the sidecar container; unique per daemon instance and task. */
  readonly sidecarName: string;
  /** Caller labels for the sidecar container (task, repo, conversation, instance). */
  readonly labels: Readonly<Record<string, string>>;
  readonly allowlist: Allowlist;
  readonly masks: readonly MaskRule[];
  /** signing_credentials the proxy re-signs (AWS SigV4). */
  readonly signing?: readonly SigningRule[];
  /** Called after log rows were stored, with the id of the last one. */
  readonly onLogged?: (lastId: number) => void;
  /**
   * Most log rows stored for this task (`task_output.max_network_rows`); later requests are still
   * checked by the proxy, only counted instead of stored. Default: no limit.
   */
  readonly maxLogRows?: number;
  /** Called once at close when rows were not stored because of `maxLogRows`. */
  readonly onLogTruncated?: (t: { readonly limit: number; readonly dropped: number; readonly blocked: number }) => void;
}

export async function openSandboxedNetwork(spec: SandboxedNetworkSpec): Promise<TaskNetwork> {
  const dir = taskSandboxDir(spec.globals.stateDir, spec.taskId);
  const socketDir = path.join(dir, 'sock');
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(socketDir, { recursive: true, mode: 0o700 });
  const resolvConf = path.join(dir, 'resolv.conf');
  await fs.writeFile(resolvConf, 'nameserver 127.0.0.1\noptions ndots:1 attempts:1 timeout:2\n');

  const writer = new NetworkLogWriter(spec);
  const ca = CertificateAuthority.load(spec.globals.caFiles);
  let proxy: ConversationProxy | null = null;
  let stopSidecar: (() => Promise<void>) | null = null;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await stopSidecar?.().catch((err: Error) => spec.log.warn({ err: err.message }, 'could not remove the network sidecar; the start-up cleanup will'));
    await proxy?.close().catch((err: Error) => spec.log.warn({ err: err.message }, 'could not close the sandbox proxy'));
    writer.close();
    await fs.rm(dir, { recursive: true, force: true }).catch((err: Error) => {
      spec.log.warn({ err: err.message, dir }, 'could not remove the task sandbox directory; the start-up cleanup will');
    });
  };
  try {
    proxy = await ConversationProxy.start({
      socketDir,
      allowlist: spec.allowlist,
      masks: spec.masks,
      ...(spec.signing ? { signing: spec.signing } : {}),
      ca,
      upstreamOverrides: spec.globals.upstreamOverrides,
      onRequest: (e) => writer.add(e),
    });
    const sidecar = await startNetworkSidecar({
      runtime: spec.runtime,
      sidecar: spec.globals.sidecar,
      name: spec.sidecarName,
      labels: spec.labels,
      socketDir,
      hostPatterns: listedHostPatterns(spec.allowlist),
    });
    stopSidecar = sidecar.stop;
    return {
      sandboxed: true,
      network: sidecar.network,
      extraArgs: [`--volume=${resolvConf}:/etc/resolv.conf:ro`, `--volume=${spec.globals.caFiles.certPath}:${CONTAINER_CA_PATH}:ro`],
      env: sandboxEnv(),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Proxy settings for tools that honour them, and the CA for every TLS stack we know of. */
function sandboxEnv(): Record<string, string> {
  const env: Record<string, string> = { AIRUT_NETWORK_SANDBOX: '1' };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) env[name] = PROXY_URL;
  env.NO_PROXY = env.no_proxy = 'localhost,127.0.0.1,::1';
  // Every certificate the container sees comes from the proxy, so the CA alone is the right bundle.
  for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT']) {
    env[name] = CONTAINER_CA_PATH;
  }
  return env;
}

/**
 * Buffers log entries and writes them in small transactions, so a busy npm install is cheap. The
 * per-task cap is counted here, on the runner's side of the proxy: a container hammering the proxy
 * costs a counter, not rows.
 */
export class NetworkLogWriter {
  private pending: NetworkLogEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private done = false;
  private accepted = 0;
  private dropped = 0;
  private droppedBlocked = 0;

  constructor(private readonly spec: Pick<SandboxedNetworkSpec, 'storeLogRows' | 'log' | 'onLogged' | 'maxLogRows' | 'onLogTruncated'>) {}

  add(e: NetworkLogEntry): void {
    if (this.done) return;
    // An accepted push is stored whatever the cap: the reply names the pushed branches from these rows.
    if (this.accepted >= (this.spec.maxLogRows ?? Infinity) && !e.pushed?.length) {
      this.dropped++;
      if (!e.allowed) this.droppedBlocked++;
      return;
    }
    this.accepted++;
    this.pending.push(e);
    if (this.pending.length >= LOG_FLUSH_ROWS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), LOG_FLUSH_MS);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      const lastId = this.spec.storeLogRows(batch);
      this.spec.onLogged?.(lastId);
    } catch (err) {
      this.spec.log.error({ err: (err as Error).message, rows: batch.length }, 'could not store network log rows');
    }
  }

  close(): void {
    if (this.done) return;
    this.flush();
    this.done = true;
    if (this.dropped > 0) {
      try {
        this.spec.onLogTruncated?.({ limit: this.spec.maxLogRows ?? 0, dropped: this.dropped, blocked: this.droppedBlocked });
      } catch (err) {
        this.spec.log.error({ err: (err as Error).message }, 'could not record that network log rows were cut');
      }
    }
  }
}

/**
 * Removes what a crashed daemon left: task directories (sockets, resolv.conf) and env files of
 * containers that were starting (they hold secrets). The sidecar containers carry the managed
 * label and go with the other orphan containers.
 */
export async function cleanupSandboxLeftovers(stateDir: string): Promise<number> {
  const tasksDir = path.join(stateDir, 'tasks');
  const entries = await fs.readdir(tasksDir).catch(() => [] as string[]);
  await Promise.all(entries.map((e) => fs.rm(path.join(tasksDir, e), { recursive: true, force: true })));
  await fs.rm(envFileDir(stateDir), { recursive: true, force: true });
  return entries.length;
}
