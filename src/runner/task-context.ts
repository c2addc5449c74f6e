/**
 * What every stage of a task's run gets: the facts of the task, decided once before the first
 * stage, and its collaborators passed in (the execution backend, the repository mirror, the
 * conversation files, the store, the clock), so each stage can be tested with fakes of them.
 */
import type { RequestedRepo } from '../protocol/requested-repos.ts';
import type { RepoServerConfig } from '../config/types.ts';
import type { ConversationStore } from '../conversation/index.ts';
import type { RepoFileSource } from '../repo-config/index.ts';
import type { UpdateOptions } from '../git/index.ts';
import type { Logger } from '../log/logger.ts';
import type { ComposeBody, ReplyAttachment } from '../reply/compose.ts';
import type { ExecutionBackend } from '../sandbox/execution-backend.ts';
import type { Db } from '../store/database.ts';
import type { TaskRow } from '../store/task-queries.ts';
import type { TaskOutcomeUpdate } from '../store/task-queue.ts';
import type { AgentEvent } from '../sandbox/execution-backend.ts';
import type { CancelReason, RunnerSettings, RunTaskResult } from '../protocol/runner.ts';
import type { TaskStore } from './task-store.ts';
import type { HandledMail } from './handled-mails.ts';
import type { LiveFollowUps } from './live-follow-ups.ts';
import type { TaskFiles } from './kept-files.ts';

/** Runner-wide parts a task-runner thread builds once (workers/task-runner.ts). */
export interface RunnerEnvironment {
  readonly settings: RunnerSettings;
  readonly db: Db;
  readonly backend: ExecutionBackend;
}

/** The parts of the git mirror a run uses (src/git/mirror.ts). */
export interface RepoMirror extends RepoFileSource {
  /** `freshForMs`: a fetch started that recently counts as this one (GitMirror.update). */
  update(options?: UpdateOptions): Promise<void>;
  /** The object id of a directory's tree on the default branch, null when there is none. */
  treeOid(dir: string): Promise<string | null>;
  exportDir(dir: string, destDir: string): Promise<string[]>;
  cloneWorkspace(dest: string, branch?: string): Promise<void>;
  scrubWorkspace(dest: string): Promise<boolean>;
}

/** Stores the agent's events under the task's cap (event-recorder.ts). */
export interface TaskEvents {
  record(e: AgentEvent): void;
  networkTruncated(t: { readonly limit: number; readonly dropped: number; readonly blocked: number }): void;
  /** A retry after a transient API failure: its event (outside the events cap) and the task's retry count. */
  apiRetry(r: ApiRetryEvent): void;
  finish(): void;
}

export interface ApiRetryEvent {
  /** 1 for the first retry of this run. */
  readonly attempt: number;
  readonly cause: string;
  readonly detail: string;
  readonly delaySeconds: number;
}

/** Queues a reply to the task's mail; with `finish`, records the outcome in the same transaction. */
export type QueueTaskReply = (body: ComposeBody, attachments?: readonly ReplyAttachment[], finish?: TaskOutcomeUpdate) => Promise<unknown>;

export interface TaskContext {
  readonly task: TaskRow;
  readonly repo: RepoServerConfig;
  readonly conversationId: string;
  /** The mail's text with the quoted history removed, and without its `Repos:` line (src/email/repos-line.ts). */
  readonly bodyText: string;
  /** Why the mail's `Repos:` line could not be read, for the sender; null when it had none or a good one. */
  readonly reposLineProblem: string | null;
  /**
   * The companions the mail's good `Repos:` line names ([] for none). Read here, from the body the
   * runner parses anyway, not by the listener: listeners never parse bodies (their bundle stays small).
   */
  readonly mailRepos: readonly RequestedRepo[];
  /** The configured repositories the primary's `companions` names (RunTaskInput.companionRepos). */
  readonly companionRepos: Readonly<Record<string, RepoServerConfig>>;
  /** A companion's mirror (its own storage_dir and URL). */
  readonly companionMirror: (repo: RepoServerConfig) => RepoMirror;
  /** The sender as the prompt names them: the From header's name and address (Airut's mail block). */
  readonly senderLine: string;
  /** The subject without `Re:` prefixes. */
  readonly subject: string;
  /**
   * The conversation's first task: the one whose prompt carries the subject, that clones the
   * workspace and is acknowledged. Decided once, from the database (an earlier task of the
   * conversation), so a re-run after a crash that happened after the directory was made still counts.
   */
  readonly isFirstTask: boolean;
  /** A re-run after a shutdown or crash interrupted the first run. */
  readonly isResume: boolean;
  /** The schedule (repos.<id>.schedules.<name>) that started the task; null for mail. */
  readonly schedule: string | null;
  /** This run resumes a paused task (transient API failures outlasted the retries) because new mail arrived. */
  readonly resumedFromPause: boolean;
  /** The follow-ups coalesced into this run, oldest first; the reply threads to the newest mail handled. */
  readonly coalesced: readonly HandledMail[];
  /** Follow-ups delivered into the running session (live-follow-ups.ts); null where nobody offers any. */
  readonly live: Pick<LiveFollowUps, 'attach' | 'detach' | 'observe' | 'replyText'> | null;
  readonly settings: RunnerSettings;
  readonly log: Logger;
  /** Aborted when the task is stopped (an operator, or a shutdown). */
  readonly signal: AbortSignal;
  readonly cancelReason: () => CancelReason | null;

  readonly backend: ExecutionBackend;
  readonly mirror: RepoMirror;
  readonly conversations: ConversationStore;
  readonly store: TaskStore;
  /** Keeps the mails' attachments and the sent outbox files for the dashboard. */
  readonly files: TaskFiles;
  readonly events: TaskEvents;
  readonly now: () => number;

  readonly reply: QueueTaskReply;
  /** Records the run as interrupted (to run again after the restart); no reply. */
  readonly interrupt: (error: string) => RunTaskResult;
  /** Records the run's end without any reply (a scheduled run whose trigger_command said no). */
  readonly finishQuietly: (update: TaskOutcomeUpdate) => void;
  /** Network log rows up to `lastId` were stored. */
  readonly onNetworkLogged: (lastId: number) => void;
  /** The task row changed in a way the dashboard shows. */
  readonly onTaskChanged: () => void;
}
