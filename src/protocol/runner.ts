/**
 * What the dispatcher (main thread) hands a task-runner thread, and the messages they exchange
 * while the task runs. One MessageChannel per task: the runner reports progress on it, the
 * dispatcher sends `cancel` on it. Everything is structured-cloneable.
 */
import type { MessagePort } from 'node:worker_threads';
import type { RepoServerConfig, TaskOutputLimits } from '../config/types.ts';
import type { TaskOutcomeStatus } from '../store/task-transitions.ts';
import type { StorageFaultInfo } from '../health/storage-faults.ts';
import type { ExecutionSettings } from '../sandbox/backend-factory.ts';

/**
 * Runner-wide settings: the same for every task, so the pool hands them to each runner thread once
 * (its `workerData`), not with every task.
 */
export interface RunnerSettings {
  readonly databasePath: string;
  readonly allowedModels: readonly string[];
  readonly dashboardBaseUrl: string | null;
  /** `execution.image_build_timeout`. */
  readonly imageBuildTimeoutSeconds: number;
  /** `execution.image_max_age_hours`: an older image is rebuilt without cache at the next task; 0 never. */
  readonly imageMaxAgeHours: number;
  /** `task_output`: caps on outbox files, output lines, stored events and network rows. */
  readonly taskOutput: TaskOutputLimits;
  /** What the runner's ExecutionBackend is built from (container runtime, instance, sandbox prepared at start-up). */
  readonly execution: ExecutionSettings;
}

/** What is about one task; runner-wide settings come with the thread (RunnerSettings). */
export interface RunTaskInput {
  readonly taskId: number;
  readonly conversationId: string;
  readonly isNewConversation: boolean;
  /** A re-run after a shutdown or crash interrupted the first run. */
  readonly isResume: boolean;
  /** The claim resumed the conversation's paused task (store/task-merges.ts). */
  readonly resumedFromPause: boolean;
  readonly repo: RepoServerConfig;
  /** The configurations of the repositories `repo.companions` names that are configured (docs/multi-repo.md). */
  readonly companionRepos?: Readonly<Record<string, RepoServerConfig>>;
  readonly port: MessagePort;
}

export interface RunTaskResult {
  readonly taskId: number;
  readonly status: TaskOutcomeStatus;
}

/** The stages of a task's run, in order (src/runner/stages/); `trigger` only for a scheduled run. */
export const TASK_STAGES = ['repo-inputs', 'conversation', 'image', 'trigger', 'agent', 'outcome'] as const;
export type TaskStage = (typeof TASK_STAGES)[number];

/** Why a running task is being stopped. */
export type CancelReason = 'user' | 'shutdown';

export type DispatcherToRunner =
  | { readonly type: 'cancel'; readonly reason: CancelReason }
  /**
   * A queued mail of this run's conversation, offered once: the runner delivers it live into the
   * running session while the agent's input is open (it then ends `merged`), else leaves it queued.
   */
  | { readonly type: 'follow-up'; readonly taskId: number };

export type RunnerToDispatcher =
  | { readonly type: 'event'; readonly taskId: number; readonly eventId: number; readonly kind: string }
  /** The runner entered a stage (stored in task_stages at `at`); the dashboard shows where the task is. */
  | { readonly type: 'stage'; readonly taskId: number; readonly stage: TaskStage; readonly at: number }
  /** Network log rows up to `lastId` were stored for this task's conversation. */
  | { readonly type: 'network'; readonly taskId: number; readonly repoId: string; readonly conversationId: string; readonly lastId: number }
  /** A mail (an acknowledgement, the reply) was queued in the outbox: the sender should send it now, not at its next poll. */
  | { readonly type: 'mail-queued'; readonly taskId: number }
  /** The task row changed in a way the dashboard shows (e.g. its network sandbox flag). */
  | { readonly type: 'task-changed'; readonly taskId: number }
  /** The task hit a disk or database error (for /health; the task itself ends as usual). */
  | { readonly type: 'storage-fault'; readonly taskId: number; readonly repoId: string; readonly fault: StorageFaultInfo };
