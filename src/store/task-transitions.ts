/**
 * Every change of a task's status goes through `transitionTask`: one table of the allowed moves,
 * and one conditional UPDATE that applies only while the row is still in the state and attempt the
 * caller saw. That is the lease check queues like BullMQ make on completion: a runner whose task
 * was meanwhile requeued (lease lapsed, process restarted) and claimed again cannot overwrite the
 * newer run's outcome, and a cancel cannot land on a task that has just started.
 *
 * A refused transition is not an exception: the result says why, and the caller decides what to
 * log (two owners racing for one row is an expected, harmless event). Rows enter the table through
 * store/accept.ts as `queued` or `rejected`; rejected is final from the start. A move to an outcome
 * queues the repository's completion webhook in the same transaction (store/webhook-deliveries.ts).
 */
import type { Db } from './database.ts';
import type { TaskStatus } from './task-queries.ts';
import { queueTaskFinished, reportsFinished } from './webhook-deliveries.ts';

/** How a run ended; `interrupted` may be resumed after a restart. */
export type TaskOutcomeStatus = Extract<TaskStatus, 'completed' | 'failed' | 'timeout' | 'cancelled' | 'interrupted' | 'budget_exceeded' | 'paused'>;

/**
 * The allowed moves, with who makes each. Anything not listed is refused. The terminal states
 * (completed, failed, timeout, cancelled, rejected) have no way out.
 */
export const TASK_TRANSITIONS: { readonly [From in TaskStatus]: { readonly [To in TaskStatus]?: string } } = {
  queued: {
    running: 'claimed by the dispatcher (task-queue.ts claimNextTask)',
    cancelled: "removed from the queue by the dashboard's Stop",
    merged: 'a follow-up handled by another task of its conversation: delivered live into its session, or coalesced into it',
  },
  running: {
    completed: 'the runner recorded the answer',
    failed: 'the runner, or the dispatcher when the runner thread died or the repository is gone',
    timeout: 'the runner stopped the agent at its time limit',
    cancelled: "the runner, after the dashboard's Stop",
    interrupted: 'a shutdown stopped it (to resume), or recovery gave up after a second interruption',
    queued: 'recovery: the process died or the lease lapsed; it runs once more',
    budget_exceeded: 'the runner, when Claude Code stopped at the task budget',
    paused: 'the runner, when transient API failures outlasted the automatic retries',
  },
  paused: {
    queued: 'a reply in its conversation resumes it (the reply is coalesced into it)',
    cancelled: "the dashboard's Stop: it will not be resumed",
  },
  interrupted: {
    queued: 'recovery at start-up: a shutdown interrupted it and it resumes',
    interrupted: 'recovery gave up after a second interruption; the sender is told',
  },
  completed: {},
  failed: {},
  timeout: {},
  cancelled: {},
  rejected: {},
  budget_exceeded: {},
  merged: {},
};

export function transitionAllowed(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from][to] !== undefined;
}

/** What the caller believes the row is: its status and its attempt (`attempts`, counted by claims). */
export interface ExpectedTaskState {
  readonly status: TaskStatus;
  readonly attempt: number;
}

/** The fields a run's end records; null or absent keeps what the row has (except `error`). */
export interface TaskOutcomeFields {
  /** With `interrupted`: run it again after the restart. */
  readonly resumePending?: boolean;
  readonly model?: string | null;
  readonly sessionId?: string | null;
  readonly costUsd?: number | null;
  readonly turns?: number | null;
  readonly error?: string | null;
}

export type TaskChange =
  /** Claim: the run starts in this conversation, holding a lease until `leaseUntil`. */
  | { readonly to: 'running'; readonly conversationId: string; readonly leaseUntil: number }
  /** Recovery: back in the queue, to run (and resume its session) once more. */
  | { readonly to: 'queued' }
  | ({ readonly to: TaskOutcomeStatus } & TaskOutcomeFields)
  /** A follow-up handled by task `mergedInto` of conversation `conversationId`. */
  | { readonly to: 'merged'; readonly mergedInto: number; readonly mergeKind: 'live' | 'coalesced'; readonly conversationId: string };

export type TransitionRefusal =
  /** The table has no such move (a bug in the caller, or a row in a final state). */
  | 'not-allowed'
  /** The row is no longer in the expected status. */
  | 'status-changed'
  /** The row is in the expected status, but of another attempt (requeued and claimed again). */
  | 'attempt-changed'
  | 'missing';

export type TransitionResult =
  | { readonly applied: true }
  | {
      readonly applied: false;
      readonly reason: TransitionRefusal;
      /** The row as it is now, for the caller's log line; null when it does not exist. */
      readonly current: { readonly status: TaskStatus; readonly attempt: number } | null;
    };

/**
 * Moves a task from `expected` to `change.to` if the table allows it and the row is still in the
 * expected status and attempt. Call inside the write transaction that goes with it (the reply
 * that announces the outcome), so both happen or neither.
 */
export function transitionTask(db: Db, taskId: number, expected: ExpectedTaskState, change: TaskChange, now: number = Date.now()): TransitionResult {
  if (!transitionAllowed(expected.status, change.to)) return refuse(db, taskId, 'not-allowed');
  const { set, args } = assignments(change, now);
  const info = db
    .prepare(`UPDATE tasks SET status = ?, ${set} WHERE id = ? AND status = ? AND attempts = ?`)
    .run(change.to, ...args, taskId, expected.status, expected.attempt);
  if (info.changes === 1) {
    // Here, not in each caller: every way a task ends (runner, dispatcher, recovery, Stop) passes
    // through this UPDATE, and the delivery commits or rolls back with it.
    if (reportsFinished(change.to, 'resumePending' in change && change.resumePending === true)) queueTaskFinished(db, taskId, now);
    return { applied: true };
  }
  const row = currentState(db, taskId);
  return refuse(db, taskId, !row ? 'missing' : row.status !== expected.status ? 'status-changed' : 'attempt-changed');
}

/** The columns each kind of move writes besides the status. */
function assignments(change: TaskChange, now: number): { set: string; args: unknown[] } {
  if (change.to === 'running') {
    return {
      set: `conversation_id = ?, started_at = ?, lease_until = ?, attempts = attempts + 1, finished_at = NULL, resume_pending = 0, error = NULL`,
      args: [change.conversationId, now, change.leaseUntil],
    };
  }
  if (change.to === 'queued') return { set: `lease_until = NULL, finished_at = NULL`, args: [] };
  if (change.to === 'merged') {
    return {
      set: `merged_into = ?, merge_kind = ?, conversation_id = ?, finished_at = ?, lease_until = NULL`,
      args: [change.mergedInto, change.mergeKind, change.conversationId, now],
    };
  }
  return {
    set: `model = COALESCE(?, model), session_id = COALESCE(?, session_id), cost_usd = COALESCE(?, cost_usd),
          turns = COALESCE(?, turns), error = ?, finished_at = ?, lease_until = NULL, resume_pending = ?`,
    args: [change.model ?? null, change.sessionId ?? null, change.costUsd ?? null, change.turns ?? null, change.error ?? null, now, change.resumePending ? 1 : 0],
  };
}

function currentState(db: Db, taskId: number): { status: TaskStatus; attempt: number } | null {
  const r = db.prepare(`SELECT status, attempts FROM tasks WHERE id = ?`).get(taskId) as { status: TaskStatus; attempts: number } | undefined;
  return r ? { status: r.status, attempt: r.attempts } : null;
}

function refuse(db: Db, taskId: number, reason: TransitionRefusal): TransitionResult {
  return { applied: false, reason, current: currentState(db, taskId) };
}

/** One line for a log: why a transition did not apply. */
export function describeRefusal(taskId: number, expected: ExpectedTaskState, to: TaskStatus, r: Extract<TransitionResult, { applied: false }>): string {
  const now = r.current ? `${r.current.status} (attempt ${r.current.attempt})` : 'gone';
  return `task ${taskId}: ${expected.status} (attempt ${expected.attempt}) → ${to} refused (${r.reason}); the row is ${now}`;
}
