/**
 * The ExecutionBackend over a Kubernetes cluster: every task is a pod (agent-pod.ts,
 * command-pod.ts), its network the conversation proxy behind the daemon's pod gateway
 * (kube-network.ts), its images built here and pulled by digest (kube-images.ts). Like the container
 * backend it knows nothing of email or the database, and everything it creates carries this
 * daemon's instance label, so the start-up reaper removes what a crash left and nothing of another
 * daemon's.
 */
import type { ContainerRuntime } from '../container-runtime.ts';
import type {
  AgentEventHandler,
  AgentOutcome,
  AgentRunRequest,
  CommandOutcome,
  CommandRunRequest,
  ExecutionBackend,
  ImageSpec,
  ReapRequest,
  SandboxedNetworkRequest,
} from '../execution-backend.ts';
import type { EnsuredImage } from '../image.ts';
import { pruneImages, type ManagedImage, type PruneReport } from '../image-prune.ts';
import type { ManagedContainer, ReapReport } from '../reaper.ts';
import type { SandboxGlobals, TaskNetwork } from '../task-network.ts';
import { AirutError } from '../../errors.ts';
import { logger } from '../../log/logger.ts';
import { runAgentPod } from './agent-pod.ts';
import type { PodDeps } from './task-pod-run.ts';
import { runCommandPod } from './command-pod.ts';
import { KubeApi, type KubeKind } from './kube-api.ts';
import { KubeImages } from './kube-images.ts';
import { openKubeNetwork, unsandboxedKubeNetwork, type KubeNetworkParts } from './kube-network.ts';
import type { KubernetesSettings } from './settings.ts';
import { instanceSelector, taskIdOf, taskSelector } from './task-objects.ts';

export interface KubernetesBackendOptions {
  /** The local runtime images are built and pushed with. */
  readonly runtime: ContainerRuntime;
  readonly instance: string;
  readonly claudeBinaryPath: string;
  readonly capacity: number;
  readonly settings: KubernetesSettings;
  /** What the daemon prepared at start-up (CA, state dir); null where no task runs (start-up reaping). */
  readonly sandbox: SandboxGlobals | null;
  /** Tests: a static busybox other than /bin/busybox. */
  readonly busyboxPath?: string;
  /** Tests: a tools image reference (by digest) used as is, instead of building and pushing one. */
  readonly toolsImage?: string;
}

export class KubernetesBackend implements ExecutionBackend {
  readonly capacity: number;
  readonly #o: KubernetesBackendOptions;
  readonly #api: KubeApi;
  readonly #images: KubeImages;
  readonly #running = new Map<number, AbortController>();
  /** The parts of each open sandboxed network the pod needs (token, proxy URLs, CA), by its TaskNetwork. */
  readonly #networks = new WeakMap<TaskNetwork, KubeNetworkParts>();

  constructor(options: KubernetesBackendOptions) {
    this.#o = options;
    this.capacity = options.capacity;
    this.#api = KubeApi.connect(options.settings.connection);
    this.#images = new KubeImages({
      runtime: options.runtime,
      instance: options.instance,
      registry: options.settings.registry,
      tlsVerify: options.settings.registryTlsVerify,
      claudeBinaryPath: options.claudeBinaryPath,
      ...(options.busyboxPath ? { busyboxPath: options.busyboxPath } : {}),
    });
  }

  /** Requests made to the API server by this backend (the capacity bench reads it). */
  get apiCalls(): KubeApi['calls'] {
    return this.#api.calls;
  }

  ensureImage(spec: ImageSpec): Promise<EnsuredImage> {
    return this.#images.ensure(spec);
  }

  async openNetwork(request: SandboxedNetworkRequest | null): Promise<TaskNetwork> {
    if (!request) return unsandboxedKubeNetwork();
    const { network, parts } = await openKubeNetwork(request, this.#sandbox(), {
      address: this.#o.settings.gateway.advertiseAddress,
      port: this.#o.settings.gateway.listenPort,
    });
    this.#networks.set(network, parts);
    return network;
  }

  runAgent(request: AgentRunRequest, onEvent: AgentEventHandler): Promise<AgentOutcome> {
    // The pod's state bundle packs fixed directories; the runner refuses such a task earlier with a reply.
    if (request.repoMounts?.length) return Promise.reject(new AirutError('REPOS_REFUSED', 'companion repositories cannot be mounted on the Kubernetes backend'));
    return this.#track(request.taskId, request.signal, async (signal) =>
      runAgentPod(await this.#deps(), request, this.#networks.get(request.network) ?? null, signal, onEvent),
    );
  }

  /** A run's pod is gone before runAgentPod returns (it waits for the pod's end and cleans up); nothing is left to wait for. */
  settle(): Promise<void> {
    return Promise.resolve();
  }

  runCommand(request: CommandRunRequest): Promise<CommandOutcome> {
    return this.#track(request.taskId, request.signal, async (signal) =>
      runCommandPod(await this.#deps(), request, this.#networks.get(request.network) ?? null, signal),
    );
  }

  cancel(taskId: number): boolean {
    const run = this.#running.get(taskId);
    run?.abort();
    return run !== undefined;
  }

  /** Deletes this instance's pods, Secrets and NetworkPolicies (of one task, or all a crash left). */
  async reap(request: ReapRequest = {}): Promise<ReapReport> {
    const { instance } = this.#o;
    const selector = request.taskId === undefined ? instanceSelector(instance) : taskSelector(instance, request.taskId);
    const reaped: ManagedContainer[] = [];
    const failed: Array<{ container: ManagedContainer; error: string }> = [];
    for (const kind of ['pod', 'secret', 'networkpolicy'] as const satisfies readonly KubeKind[]) {
      const objects = await this.#api.list(kind, selector);
      await Promise.all(
        objects.map(async (o) => {
          const task = taskIdOf(o.labels);
          const entry: ManagedContainer = { name: `${kind}/${o.name}`, state: kind, labels: task === null ? {} : { task: String(task) } };
          try {
            await this.#api.delete(kind, o.name, kind === 'pod' ? request.graceSeconds ?? 2 : 0);
            reaped.push(entry);
          } catch (err) {
            failed.push({ container: entry, error: (err as Error).message });
          }
        }),
      );
    }
    // A pod being deleted keeps its name until its containers have stopped; a task re-run at once
    // would create a pod of the same name and be refused (409), so the reaper waits for them.
    await this.#podsGone(selector, ((request.graceSeconds ?? 2) + 30) * 1000);
    return { reaped, failed };
  }

  async #podsGone(selector: string, withinMs: number): Promise<void> {
    const until = Date.now() + withinMs;
    while (Date.now() < until) {
      if ((await this.#api.list('pod', selector)).length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    logger().warn({ selector }, 'pods deleted by the reaper are still terminating; a task re-run now may be refused until they are gone');
  }

  /** Local images only: what was pushed stays in the registry, whose own retention rules govern it. */
  pruneImages(keep: (image: ManagedImage) => boolean): Promise<PruneReport> {
    return pruneImages(this.#o.runtime, { owner: { instance: this.#o.instance }, keep });
  }

  /**
   * The tools image pods start with: given (tests), published by the daemon at start-up (the
   * sandbox globals carry it to every runner thread), or built and pushed here on first use.
   */
  toolsImage(): Promise<string> {
    const given = this.#o.toolsImage ?? this.#o.sandbox?.kubeToolsImage;
    return given ? Promise.resolve(given) : this.#images.toolsImage();
  }

  async #deps(): Promise<PodDeps> {
    return {
      api: this.#api,
      settings: this.#o.settings,
      instance: this.#o.instance,
      stateDir: this.#sandbox().stateDir,
      toolsImage: await this.toolsImage(),
      log: logger(),
    };
  }

  async #track<T>(taskId: number, outer: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    if (outer?.aborted) controller.abort();
    outer?.addEventListener('abort', stop, { once: true });
    this.#running.set(taskId, controller);
    try {
      return await run(controller.signal);
    } finally {
      outer?.removeEventListener('abort', stop);
      if (this.#running.get(taskId) === controller) this.#running.delete(taskId);
    }
  }

  #sandbox(): SandboxGlobals {
    if (this.#o.sandbox) return this.#o.sandbox;
    throw new AirutError('SANDBOX_SPEC_INVALID', 'the Kubernetes backend needs the sandbox prepared at start-up (prepareSandbox), and was built without it');
  }
}
