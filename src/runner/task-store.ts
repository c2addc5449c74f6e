/**
 * The store functions a task's stages use, bound to its database connection and its ids, so a
 * stage takes one small object (and a test a fake of it) instead of a `db` handle. No SQL here:
 * each method is one call into src/store/.
 */
import type { Db } from '../store/database.ts';
import { getTaskRawMessage } from '../store/task-queries.ts';
import { setTaskEffort, setTaskModel, setTaskNetworkSandbox } from '../store/task-queue.ts';
import { ackQueued } from '../store/outgoing-mail.ts';
import { conversationEffort, conversationSubject, upsertConversation, type ConversationFields } from '../store/conversations.ts';
import { lastConversationResult } from '../store/task-events.ts';
import { recordRepoImage } from '../store/repo-images.ts';
import { insertNetworkRequests, listTaskPushes, type TaskPush } from '../store/network-log.ts';
import { recordTaskStage } from '../store/task-stages.ts';
import { getTaskRequest, saveTaskRequest } from '../store/task-content.ts';
import { finishedSpend, recordTaskBudget, type SpendSummary } from '../store/spend.ts';
import type { NetworkLogEntry } from '../proxy/conversation-proxy.ts';
import { AirutError } from '../errors.ts';
import { getApiTask } from '../store/api-tasks.ts';
import type { RequestedRepo } from '../protocol/requested-repos.ts';
import { listConversationRepos, saveConversationRepos, taskRequestedRepos, type ConversationRepo } from '../store/conversation-repos.ts';

export interface TaskStore {
  /** The acknowledgement of this task is queued already (a re-run after a crash). */
  ackQueued(): boolean;
  setModel(model: string): void;
  setEffort(effort: string | null): void;
  /** The effort pinned in the conversation's row (null: Claude Code's default, or no row yet). */
  conversationEffort(): string | null;
  setNetworkSandbox(sandboxed: boolean): void;
  /** The task's raw inbound mail. */
  rawMessage(): Buffer;
  /** Creates the conversation's row, or fills in its model / session id. */
  saveConversation(fields: ConversationFields): void;
  /** The subject the conversation started with, and the answer it last gave (other tasks), for a fresh session's summary. */
  conversationHistory(): { subject: string | null; lastAnswer: unknown };
  recordImage(tag: string): void;
  storeNetworkRows(rows: readonly NetworkLogEntry[]): number;
  /** The git pushes the upstreams accepted during this task (from its network log), for the reply. */
  taskPushes(): TaskPush[];
  recordStage(stage: string, at: number): void;
  /** Replaces the request text the task recorded (a scheduled run's prompt is its trigger_command's output); the original stays. */
  saveRequestText(text: string): void;
  /** Records the budget the run is given (`tasks.budget_usd`), null for none. */
  setBudget(budgetUsd: number | null): void;
  /** The budget the task was submitted with over the API (api_tasks), null for none: it lowers the server's. */
  requestedBudget(): number | null;
  /** The task came in over the task API (api_tasks), not by mail or a schedule. */
  submittedByApi(): boolean;
  /** The companions the task asked for (tasks.requested_repos). */
  requestedRepos(): RequestedRepo[];
  /** The conversation's repositories, primary first; [] for a single-repository conversation. */
  conversationRepos(): ConversationRepo[];
  saveConversationRepos(repos: readonly ConversationRepo[]): void;
  /** What `sender` has spent in this repository on finished tasks (24 h and this month), for the reply footer. */
  senderSpend(sender: string, now: number): SpendSummary;
}

export interface TaskIds {
  readonly taskId: number;
  readonly attempt: number;
  readonly repoId: string;
  readonly conversationId: string;
}

export function taskStore(db: Db, ids: TaskIds): TaskStore {
  const { taskId, repoId, conversationId } = ids;
  return {
    ackQueued: () => ackQueued(db, taskId),
    setModel: (model) => setTaskModel(db, taskId, model),
    setEffort: (effort) => setTaskEffort(db, taskId, effort),
    conversationEffort: () => conversationEffort(db, repoId, conversationId),
    setNetworkSandbox: (sandboxed) => setTaskNetworkSandbox(db, taskId, sandboxed),
    rawMessage: () => {
      const raw = getTaskRawMessage(db, taskId);
      if (!raw) throw new AirutError('TASK_NOT_FOUND', `task ${taskId} or its message is missing from the database`);
      return raw;
    },
    saveConversation: (fields) => upsertConversation(db, repoId, conversationId, fields),
    conversationHistory: () => ({
      subject: conversationSubject(db, repoId, conversationId),
      lastAnswer: lastConversationResult(db, repoId, conversationId, taskId),
    }),
    recordImage: (tag) => recordRepoImage(db, repoId, tag),
    storeNetworkRows: (rows) => insertNetworkRequests(db, { repoId, conversationId, taskId }, rows),
    taskPushes: () => listTaskPushes(db, taskId),
    recordStage: (stage, at) => recordTaskStage(db, taskId, ids.attempt, stage, at),
    saveRequestText: (text) => saveTaskRequest(db, taskId, { text, original: getTaskRequest(db, taskId)?.original ?? '' }),
    setBudget: (budgetUsd) => recordTaskBudget(db, taskId, budgetUsd),
    requestedBudget: () => getApiTask(db, taskId)?.budgetUsd ?? null,
    senderSpend: (sender, now) => finishedSpend(db, repoId, sender, now),
    submittedByApi: () => getApiTask(db, taskId) !== null,
    requestedRepos: () => taskRequestedRepos(db, taskId),
    conversationRepos: () => listConversationRepos(db, repoId, conversationId),
    saveConversationRepos: (repos) => saveConversationRepos(db, repoId, conversationId, repos),
  };
}
