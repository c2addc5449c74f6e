/**
 * What the task runner needs from wherever the agent runs: an image, a network, one run of Claude
 * Code with its events streamed back, a way to stop it, and the removal of what a crash left.
 *
 * Like Airut's sandbox package, a backend knows nothing of email, conversations or the database:
 * a run is identified by an opaque task id and caller labels, and everything the runner keeps
 * (the network log, the image record) leaves through callbacks. The runner, the dispatcher and the
 * daemon depend on this interface only; `container-backend.ts` implements it over podman or Docker,
 * and a later backend (pods on Kubernetes) implements the same methods.
 */
import type { Allowlist } from '../proxy/allowlist.ts';
import type { NetworkLogEntry } from '../proxy/conversation-proxy.ts';
import type { MaskRule } from '../proxy/masked-secrets.ts';
import type { SigningRule } from '../proxy/sigv4-surrogates.ts';
import type { Logger } from '../log/logger.ts';
import type { EnsuredImage } from './image.ts';
import type { ManagedImage, PruneReport } from './image-prune.ts';
import type { ReapReport } from './reaper.ts';
import type { KubeRunSettings } from './kubernetes/settings.ts';
import type { AgentEventHandler, AgentMounts, AgentOutcome, RepoMount, ResourceLimits } from './run-agent.ts';
import type { CommandOutcome } from './run-command.ts';
import type { TaskNetwork } from './task-network.ts';
import type { AgentInputHandle } from './agent-input.ts';

export type { AgentInputHandle } from './agent-input.ts';

export type { AgentEvent, AgentEventHandler, AgentMounts, AgentOutcome, RepoMount } from './run-agent.ts';
export type { TaskNetwork } from './task-network.ts';
export type { CommandOutcome } from './run-command.ts';
export type { ManagedContainer, ReapReport } from './reaper.ts';
export type { ManagedImage, PruneReport } from './image-prune.ts';

export interface ImageSpec {
  /** The build context (a directory holding a `Dockerfile` or `Containerfile`). */
  readonly contextDir: string;
  /** Opaque id of the repository the image belongs to. */
  readonly repoId: string;
  /** Called with the tag before it is looked up or built, so the caller can record it as in use. */
  readonly onTag?: (tag: string) => void;
  readonly buildTimeoutMs?: number;
  /** `execution.image_max_age_hours`: an older image is rebuilt without cache; 0 or unset never. */
  readonly maxAgeHours?: number;
}

/** The sandboxed network of one run: the proxy enforces the allowlist; its log leaves through callbacks. */
export interface SandboxedNetworkRequest {
  readonly taskId: number;
  /** Caller labels of the network's containers (repo, conversation); the backend adds task and instance. */
  readonly labels: Readonly<Record<string, string>>;
  readonly allowlist: Allowlist;
  readonly masks: readonly MaskRule[];
  /** signing_credentials the proxy re-signs (AWS SigV4). */
  readonly signing?: readonly SigningRule[];
  readonly log: Logger;
  /** Stores a batch of request log rows and returns the id of the last one. */
  readonly storeLogRows: (rows: readonly NetworkLogEntry[]) => number;
  /** Called after rows were stored, with the id of the last one. */
  readonly onLogged?: (lastId: number) => void;
  /** Most rows stored for the run; later requests are only counted. */
  readonly maxLogRows?: number;
  /** Called once at close when rows were not stored because of `maxLogRows`. */
  readonly onLogTruncated?: (t: { readonly limit: number; readonly dropped: number; readonly blocked: number }) => void;
}

/** A host file mounted read-only into the agent's container. */
export interface ExtraMount {
  readonly source: string;
  readonly target: string;
}

export interface AgentRunRequest {
  /** Opaque id of the run; the same id `cancel()` and `reap({ taskId })` take. */
  readonly taskId: number;
  /** Caller labels (repo, conversation); the backend adds task and instance. */
  readonly labels: Readonly<Record<string, string>>;
  readonly image: string;
  readonly mounts: AgentMounts;
  readonly extraMounts?: readonly ExtraMount[];
  /** Directories beside /workspace; the Kubernetes backend refuses a run that has any. */
  readonly repoMounts?: readonly RepoMount[];
  readonly model: string;
  /** `--effort`; null leaves Claude Code's default. */
  readonly effort?: 'low' | 'medium' | 'high' | 'max' | null;
  /** `--max-budget-usd`: Claude Code stops once the session has spent this much; null for no limit. */
  readonly maxBudgetUsd?: number | null;
  readonly resumeSessionId: string | null;
  readonly prompt: string;
  /** Secrets and container_env; values never reach argv or a log line. */
  readonly env: Readonly<Record<string, string>>;
  /** From `openNetwork()`. */
  readonly network: TaskNetwork;
  readonly timeoutMs: number;
  /** `resource_limits` of the repository; default DEFAULT_LIMITS (2g, 1 CPU, 512 pids). */
  readonly limits?: ResourceLimits;
  /** Capabilities added back after dropping all (`capabilities` of the repository); default none. */
  readonly capabilities?: readonly string[];
  /** The repository's pod resources and user; read only by the Kubernetes backend. */
  readonly kube?: KubeRunSettings;
  readonly maxLineBytes?: number;
  /** Aborting stops the run; the outcome is `cancelled`. */
  readonly signal?: AbortSignal;
  /**
   * Called once the agent runs, with an opaque capability: write one more user message into the
   * running session. It returns false once the session's input is closed (it answered everything
   * it was given and is ending); the caller then handles the text some other way.
   */
  readonly onInput?: (input: AgentInputHandle) => void;
}

/** One shell command in a task container (a schedule's trigger_command). */
export interface CommandRunRequest {
  /** The task the command runs for; its container is labelled with it. */
  readonly taskId: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly image: string;
  /** Host directory mounted at /workspace, the working directory. */
  readonly workspace: string;
  readonly command: string;
  /** Secrets and container_env; values never reach argv or a log line. */
  readonly env: Readonly<Record<string, string>>;
  readonly network: TaskNetwork;
  readonly timeoutMs: number;
  /** Bytes of standard output kept; the rest is counted and dropped. */
  readonly outputLimitBytes: number;
  /** The agent's limits and capabilities, so the command gets the same sandbox. */
  readonly limits?: ResourceLimits;
  readonly capabilities?: readonly string[];
  /** As the agent's: read only by the Kubernetes backend. */
  readonly kube?: KubeRunSettings;
  readonly extraMounts?: readonly ExtraMount[];
  readonly signal?: AbortSignal;
}

export interface ReapRequest {
  /** Only the containers of this run; default every container this instance left. */
  readonly taskId?: number;
  /** Seconds between SIGTERM and SIGKILL for containers still running. */
  readonly graceSeconds?: number;
}

export interface ExecutionBackend {
  /** How many agents it runs at once (`execution.max_concurrent`). */
  readonly capacity: number;
  /** Builds the image for a context, or reuses the one its content hash names. */
  ensureImage(spec: ImageSpec): Promise<EnsuredImage>;
  /** The sandboxed network for a run, or (null) the configured unrestricted one. */
  openNetwork(request: SandboxedNetworkRequest | null): Promise<TaskNetwork>;
  /** One run of Claude Code; events arrive through `onEvent` as they happen. */
  runAgent(request: AgentRunRequest, onEvent: AgentEventHandler): Promise<AgentOutcome>;
  /** One shell command in the repository's sandbox, to its exit, timeout or the signal. */
  runCommand(request: CommandRunRequest): Promise<CommandOutcome>;
  /**
   * Resolves once what the backend tidies up after a task's runs is done (the container backend
   * removes a finished run's container after returning its outcome, so the reply need not wait).
   * The runner awaits it before the task ends, so a finished task holds no container.
   */
  settle(taskId: number): Promise<void>;
  /** Stops a run of this process; false when none runs under that id. */
  cancel(taskId: number): boolean;
  /** Removes the containers of this instance (of one run, or all a crash left) and returns what it removed. */
  reap(request?: ReapRequest): Promise<ReapReport>;
  /** Removes this instance's images the caller does not keep. */
  pruneImages(keep: (image: ManagedImage) => boolean): Promise<PruneReport>;
}
