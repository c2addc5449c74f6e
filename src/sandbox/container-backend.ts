/**
 * The ExecutionBackend over a local container runtime (`container_command`: podman or Docker),
 * wrapping the modules that talk to it: image.ts, task-network.ts (proxy + sidecar), run-agent.ts,
 * reaper.ts and image-prune.ts. It owns the names and labels of everything it starts: every
 * container carries this daemon's instance id, so two daemons on one host (or tests side by side)
 * never remove each other's containers or images.
 */
import type { ContainerRuntime } from './container-runtime.ts';
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
} from './execution-backend.ts';
import { ensureImage, type EnsuredImage } from './image.ts';
import { pruneImages, type ManagedImage, type PruneReport } from './image-prune.ts';
import { envFileDir } from './network-sidecar.ts';
import { reapContainers, type ReapReport } from './reaper.ts';
import { DEFAULT_LIMITS, containerRemoved, runAgent } from './run-agent.ts';
import { runCommand } from './run-command.ts';
import { openSandboxedNetwork, unsandboxedNetwork, type SandboxGlobals, type TaskNetwork } from './task-network.ts';
import { AirutError } from '../errors.ts';

export interface ContainerBackendOptions {
  readonly runtime: ContainerRuntime;
  /** This daemon's instance id (see backend-factory.ts). */
  readonly instance: string;
  /** Network of task containers when the sandbox is off: `default` or `host`. */
  readonly containerNetwork: string;
  /** Host path of the Claude Code binary, mounted read-only. */
  readonly claudeBinaryPath: string;
  readonly capacity: number;
  /** What the daemon prepared at start-up; needed for sandboxed networks. */
  readonly sandbox: SandboxGlobals | null;
}

/** Seconds between SIGTERM and SIGKILL when reaping; the containers' work is already lost or kept on disk. */
const REAP_GRACE_SECONDS = 2;

export class ContainerBackend implements ExecutionBackend {
  readonly capacity: number;
  readonly #o: ContainerBackendOptions;
  /** Runs of this process, by task id, so `cancel()` can stop one without its caller's signal. */
  readonly #running = new Map<number, AbortController>();

  constructor(options: ContainerBackendOptions) {
    this.#o = options;
    this.capacity = options.capacity;
  }

  ensureImage(spec: ImageSpec): Promise<EnsuredImage> {
    return ensureImage({
      runtime: this.#o.runtime,
      contextDir: spec.contextDir,
      repoId: spec.repoId,
      // The instance label marks the image as this daemon's to prune.
      labels: { instance: this.#o.instance },
      onTag: spec.onTag,
      buildTimeoutMs: spec.buildTimeoutMs,
      maxAgeHours: spec.maxAgeHours,
    });
  }

  openNetwork(request: SandboxedNetworkRequest | null): Promise<TaskNetwork> {
    if (!request) return Promise.resolve(unsandboxedNetwork(this.#o.containerNetwork));
    return openSandboxedNetwork({
      runtime: this.#o.runtime,
      globals: this.#sandbox(),
      log: request.log,
      taskId: request.taskId,
      storeLogRows: request.storeLogRows,
      sidecarName: `airut-net-${this.#o.instance}-${request.taskId}`,
      labels: this.#labels(request.taskId, request.labels),
      allowlist: request.allowlist,
      masks: request.masks,
      ...(request.signing ? { signing: request.signing } : {}),
      onLogged: request.onLogged,
      maxLogRows: request.maxLogRows,
      onLogTruncated: request.onLogTruncated,
    });
  }

  async runAgent(request: AgentRunRequest, onEvent: AgentEventHandler): Promise<AgentOutcome> {
    const controller = new AbortController();
    const stop = () => controller.abort();
    if (request.signal?.aborted) controller.abort();
    request.signal?.addEventListener('abort', stop, { once: true });
    this.#running.set(request.taskId, controller);
    try {
      return await runAgent(
        {
          runtime: this.#o.runtime,
          image: request.image,
          name: this.#agentName(request.taskId),
          labels: this.#labels(request.taskId, request.labels),
          mounts: request.mounts,
          ...(request.repoMounts ? { repoMounts: request.repoMounts } : {}),
          claudeBinary: this.#o.claudeBinaryPath,
          model: request.model,
          effort: request.effort ?? null,
          maxBudgetUsd: request.maxBudgetUsd ?? null,
          resumeSessionId: request.resumeSessionId,
          prompt: request.prompt,
          env: request.env,
          envFileDir: this.#o.sandbox ? envFileDir(this.#o.sandbox.stateDir) : undefined,
          sandboxEnv: request.network.env,
          timeoutMs: request.timeoutMs,
          limits: request.limits ?? DEFAULT_LIMITS,
          capabilities: request.capabilities ?? [],
          maxLineBytes: request.maxLineBytes,
          network: request.network.network,
          extraArgs: [...(request.extraMounts ?? []).map((m) => `--volume=${m.source}:${m.target}:ro`), ...request.network.extraArgs],
          signal: controller.signal,
          ...(request.onInput ? { onInput: request.onInput } : {}),
        },
        onEvent,
      );
    } finally {
      request.signal?.removeEventListener('abort', stop);
      if (this.#running.get(request.taskId) === controller) this.#running.delete(request.taskId);
    }
  }

  settle(taskId: number): Promise<void> {
    return containerRemoved(this.#agentName(taskId));
  }

  runCommand(request: CommandRunRequest): Promise<CommandOutcome> {
    return runCommand({
      runtime: this.#o.runtime,
      image: request.image,
      // Its own name: the agent container of the same task may follow it at once.
      name: `airut-cmd-${this.#o.instance}-${request.taskId}`,
      labels: this.#labels(request.taskId, request.labels),
      workspace: request.workspace,
      command: request.command,
      env: request.env,
      sandboxEnv: request.network.env,
      envFileDir: this.#o.sandbox ? envFileDir(this.#o.sandbox.stateDir) : undefined,
      network: request.network.network,
      extraArgs: [...(request.extraMounts ?? []).map((m) => `--volume=${m.source}:${m.target}:ro`), ...request.network.extraArgs],
      limits: request.limits ?? DEFAULT_LIMITS,
      capabilities: request.capabilities ?? [],
      timeoutMs: request.timeoutMs,
      outputLimitBytes: request.outputLimitBytes,
      ...(request.signal ? { signal: request.signal } : {}),
    });
  }

  cancel(taskId: number): boolean {
    const run = this.#running.get(taskId);
    run?.abort();
    return run !== undefined;
  }

  reap(request: ReapRequest = {}): Promise<ReapReport> {
    const { instance } = this.#o;
    const task = request.taskId === undefined ? null : String(request.taskId);
    return reapContainers(this.#o.runtime, {
      graceSeconds: request.graceSeconds ?? REAP_GRACE_SECONDS,
      filter: (c) => c.labels.instance === instance && (task === null || c.labels.task === task),
    });
  }

  pruneImages(keep: (image: ManagedImage) => boolean): Promise<PruneReport> {
    return pruneImages(this.#o.runtime, { owner: { instance: this.#o.instance }, keep });
  }

  /** Task first and instance last, as the containers were always labelled. */
  #labels(taskId: number, labels: Readonly<Record<string, string>>): Record<string, string> {
    return { task: String(taskId), ...labels, instance: this.#o.instance };
  }

  /** The agent container's name for a task of this instance (one at a time: a retry reuses it). */
  #agentName(taskId: number): string {
    return `airut-task-${this.#o.instance}-${taskId}`;
  }

  #sandbox(): SandboxGlobals {
    if (this.#o.sandbox) return this.#o.sandbox;
    throw new AirutError('SANDBOX_SPEC_INVALID', 'a sandboxed network needs the sandbox prepared at start-up (prepareSandbox), and this backend was built without it');
  }
}
