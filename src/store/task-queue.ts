/**
 * The durable queue: which task runs next, and the transitions of a running task.
 *
 * A task is runnable when it is `queued` and no other task of its conversation is `running`
 * (follow-ups wait for the running one). Oldest first. Claiming coalesces the conversation's other
 * queued mails into the run, and resumes the conversation's paused run (task-merges.ts). Claiming
 * assigns the conversation:
 * the first of the mail's thread references that this repo already knows (and has not archived),
 * else a new id (a task submitted over the API has its new conversation's id from acceptance).
 * A running task holds a lease that its runner renews; a lapsed lease means the runner is gone.
 */
import { randomBytes } from 'node:crypto';
import { writeTransaction, type Db } from './database.ts';
import { getTask, type TaskRow, type TaskStatus } from './task-queries.ts';
import { startsPreassignedConversation } from './api-tasks.ts';
import { conversationIdTaken } from './conversations.ts';
import { coalesceQueued, knownConversation, reopenPausedTask } from './task-merges.ts';
import { transitionTask, type ExpectedTaskState, type TaskOutcomeFields, type TaskOutcomeStatus, type TransitionResult } from './task-transitions.ts';

export const LEASE_MS = 90_000;

export interface ClaimedTask {
  readonly task: TaskRow;
  readonly conversationId: string;
  /** True when no earlier task of this repo used this conversation id. */
  readonly isNewConversation: boolean;
  /** True when this is a re-run of a task interrupted by a shutdown or crash. */
  readonly isResume: boolean;
  /** True when this run resumes a `paused` task because a new mail of its conversation arrived. */
  readonly resumedFromPause: boolean;
  /** The conversation's other queued mails, moved `queued → merged` into this run by the claim (oldest first). */
  readonly coalesced: readonly number[];
}

function newConversationId(db: Db, repoId: string): string {
  for (;;) {
    const id = randomBytes(4).toString('hex');
    if (!conversationIdTaken(db, repoId, id)) return id;
  }
}

function conversationBusy(db: Db, repoId: string, conversationId: string): boolean {
  return !!db
    .prepare(`SELECT 1 FROM tasks WHERE repo_id = ? AND conversation_id = ? AND status = 'running' LIMIT 1`)
    .get(repoId, conversationId);
}

/** Claims the oldest runnable task, or returns null. */
export function claimNextTask(db: Db, now: number = Date.now(), repoIds?: readonly string[]): ClaimedTask | null {
  return writeTransaction(db, () => {
    // Only the repositories given (the configured ones): a removed repository's tasks stay queued
    // until it is configured again, and cannot hold up the others' in the first 200.
    const candidates = db
      .prepare(
        `SELECT id, repo_id, conversation_id, thread_refs, attempts FROM tasks
         WHERE status = 'queued' AND (@repos IS NULL OR repo_id IN (SELECT value FROM json_each(@repos)))
         ORDER BY id LIMIT 200`,
      )
      .all({ repos: repoIds ? JSON.stringify(repoIds) : null }) as Candidate[];
    for (const c of candidates) {
      // An earlier candidate's claim may have coalesced this one.
      if (getTask(db, c.id)?.status !== 'queued') continue;
      const claim = claimCandidate(db, c, now);
      if (claim) return claim;
    }
    return null;
  });
}

interface Candidate {
  id: number;
  repo_id: string;
  conversation_id: string | null;
  thread_refs: string;
  attempts: number;
}

/**
 * Claims one queued mail's run, or returns null (its conversation is busy). A conversation whose
 * latest run is paused resumes that run instead; either way, the conversation's other queued mails
 * are coalesced into the run claimed (task-merges.ts).
 */
function claimCandidate(db: Db, c: Candidate, now: number): ClaimedTask | null {
  // A task submitted over the API for a new conversation was given its id at acceptance
  // (api-tasks.ts): its first run starts that conversation; a re-run resumes it like any other.
  if (c.conversation_id !== null && c.attempts === 0 && startsPreassignedConversation(db, c.id)) {
    return claimRun(db, { id: c.id, attempts: c.attempts }, c.conversation_id, { isNew: true, resumedFromPause: false }, now);
  }
  const conversationId = c.conversation_id ?? knownConversation(db, c.repo_id, c.thread_refs);
  if (!conversationId) return claimRun(db, { id: c.id, attempts: c.attempts }, newConversationId(db, c.repo_id), { isNew: true, resumedFromPause: false }, now);
  if (conversationBusy(db, c.repo_id, conversationId)) {
    // Remember the resolution so the dashboard shows the conversation while it waits.
    db.prepare(`UPDATE tasks SET conversation_id = ? WHERE id = ?`).run(conversationId, c.id);
    return null;
  }
  const paused = reopenPausedTask(db, c.repo_id, conversationId, now);
  const handler = paused ?? { id: c.id, attempts: c.attempts };
  return claimRun(db, handler, conversationId, { isNew: false, resumedFromPause: paused !== null }, now);
}

function claimRun(
  db: Db,
  handler: { id: number; attempts: number },
  conversationId: string,
  flags: { isNew: boolean; resumedFromPause: boolean },
  now: number,
): ClaimedTask | null {
  // Read in this transaction, so it applies; the check keeps the one way a status changes.
  const claimed = transitionTask(db, handler.id, { status: 'queued', attempt: handler.attempts }, { to: 'running', conversationId, leaseUntil: now + LEASE_MS }, now);
  if (!claimed.applied) return null;
  const task = getTask(db, handler.id)!;
  const coalesced = flags.isNew ? [] : coalesceQueued(db, task.repoId, conversationId, handler.id, now);
  return {
    task,
    conversationId,
    isNewConversation: flags.isNew,
    isResume: !flags.resumedFromPause && handler.attempts > 0,
    resumedFromPause: flags.resumedFromPause,
    coalesced,
  };
}

export function renewLease(db: Db, taskId: number, now: number = Date.now()): void {
  db.prepare(`UPDATE tasks SET lease_until = ? WHERE id = ? AND status = 'running'`).run(now + LEASE_MS, taskId);
}

export function countRunning(db: Db): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE status = 'running'`).get() as { n: number }).n;
}

export function countQueued(db: Db): number {
  return (db.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE status = 'queued'`).get() as { n: number }).n;
}

/**
 * Recovery of tasks whose runner is gone. At start-up (`all`): every `running` task (its process
 * died: SIGKILL, power loss) and every `interrupted` task with `resume_pending` (a shutdown stopped
 * it). In the periodic sweep: `running` tasks whose lease lapsed, except those the caller still
 * tracks (`alive`). Each goes back to `queued` to run once more, resuming its session, unless it
 * already had `maxAttempts` tries: then it ends `interrupted` with an error, and the caller tells
 * the sender.
 */
export function requeueLapsedTasks(
  db: Db,
  opts: { all?: boolean; maxAttempts?: number; alive?: ReadonlySet<number> } = {},
  now: number = Date.now(),
): { requeued: number[]; abandoned: number[] } {
  const maxAttempts = opts.maxAttempts ?? 2;
  return writeTransaction(db, () => {
    const rows = (
      opts.all
        ? db.prepare(`SELECT id, status, attempts FROM tasks WHERE status = 'running' OR (status = 'interrupted' AND resume_pending = 1)`).all()
        : db.prepare(`SELECT id, status, attempts FROM tasks WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?)`).all(now)
    ) as Array<{ id: number; status: TaskStatus; attempts: number }>;
    const requeued: number[] = [];
    const abandoned: number[] = [];
    for (const r of rows) {
      if (opts.alive?.has(r.id)) continue;
      const seen = { status: r.status, attempt: r.attempts };
      if (r.attempts < maxAttempts) {
        if (transitionTask(db, r.id, seen, { to: 'queued' }, now).applied) requeued.push(r.id);
      } else if (transitionTask(db, r.id, seen, { to: 'interrupted', error: ABANDONED_ERROR }, now).applied) {
        abandoned.push(r.id);
      }
    }
    return { requeued, abandoned };
  });
}

/** Why recovery gave up on a task; the dispatcher's mail to the sender records the same. */
export const ABANDONED_ERROR = 'interrupted twice (shutdown or crash); not retried again';

export type TaskOutcomeUpdate = { readonly status: TaskOutcomeStatus } & TaskOutcomeFields;

/**
 * Records the end of a run, if the task is still as `expected` (normally `running` in the attempt
 * the runner was given); see task-transitions.ts. Call inside the transaction that also enqueues
 * the reply, and enqueue it only when this applied.
 */
export function finishTask(db: Db, taskId: number, expected: ExpectedTaskState, u: TaskOutcomeUpdate, now: number = Date.now()): TransitionResult {
  const { status, ...fields } = u;
  return transitionTask(db, taskId, expected, { to: status, ...fields }, now);
}

/** The model a run uses, known once its conversation is resolved (shown while it runs). */
export function setTaskModel(db: Db, taskId: number, model: string): void {
  writeTransaction(db, () => db.prepare(`UPDATE tasks SET model = ? WHERE id = ?`).run(model, taskId));
}

/** The effort level the task runs with (the conversation's, pinned at its first task). */
export function setTaskEffort(db: Db, taskId: number, effort: string | null): void {
  writeTransaction(db, () => db.prepare(`UPDATE tasks SET effort = ? WHERE id = ?`).run(effort, taskId));
}

/** Marks whether the task's container runs behind the sandbox (the dashboard shows it). */
export function setTaskNetworkSandbox(db: Db, taskId: number, sandboxed: boolean): void {
  writeTransaction(db, () => db.prepare(`UPDATE tasks SET network_sandbox = ? WHERE id = ?`).run(sandboxed ? 1 : 0, taskId));
}
