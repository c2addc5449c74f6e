/**
 * What the dispatcher (main thread) hands a task-runner thread, and the messages they exchange
 * while the task runs. One MessageChannel per task: the runner reports progress on it, the
 * dispatcher sends `cancel` on it. Everything is structured-cloneable.
 */
import type { MessagePort } from 'node:worker_threads';
import type { RepoServerConfig, TaskOutputLimits } from '../config/types.ts';
import type { TaskStatus } from '../store/task-queries.ts';
import type { StorageFaultInfo } from '../health/storage-faults.ts';
import type { SandboxGlobals } from '../sandbox/task-network.ts';

export interface RunnerGlobals {
  readonly databasePath: string;
  readonly containerCommand: string;
  readonly containerNetwork: 'default' | 'host';
  readonly claudeBinaryPath: string;
  readonly allowedModels: readonly string[];
  readonly dashboardBaseUrl: string | null;
  /** `execution.image_build_timeout`. */
  readonly imageBuildTimeoutSeconds: number;
  /** `task_output`: caps on outbox files, output lines, stored events and network rows. */
  readonly taskOutput: TaskOutputLimits;
  /** Prepared by the daemon at start-up (src/sandbox/prepare-sandbox.ts). */
  readonly sandbox: SandboxGlobals;
}

export interface RunTaskInput {
  readonly taskId: number;
  readonly conversationId: string;
  readonly isNewConversation: boolean;
  /** A re-run after a shutdown or crash interrupted the first run. */
  readonly isResume: boolean;
  readonly repo: RepoServerConfig;
  readonly globals: RunnerGlobals;
  readonly port: MessagePort;
}

export interface RunTaskResult {
  readonly taskId: number;
  readonly status: Extract<TaskStatus, 'completed' | 'failed' | 'timeout' | 'cancelled' | 'interrupted'>;
}

/** Why a running task is being stopped. */
export type CancelReason = 'user' | 'shutdown';

export type DispatcherToRunner = { readonly type: 'cancel'; readonly reason: CancelReason };

export type RunnerToDispatcher =
  | { readonly type: 'event'; readonly taskId: number; readonly eventId: number; readonly kind: string }
  | { readonly type: 'stage'; readonly taskId: number; readonly stage: string }
  /** Network log rows up to `lastId` were stored for this task's conversation. */
  | { readonly type: 'network'; readonly taskId: number; readonly repoId: string; readonly conversationId: string; readonly lastId: number }
  /** The task row changed in a way the dashboard shows (e.g. its network sandbox flag). */
  | { readonly type: 'task-changed'; readonly taskId: number }
  /** The task hit a disk or database error (for /health; the task itself ends as usual). */
  | { readonly type: 'storage-fault'; readonly taskId: number; readonly repoId: string; readonly fault: StorageFaultInfo };
