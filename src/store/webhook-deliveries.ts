/**
 * Queries over `webhook_deliveries`, the durable outbox of completion webhooks, and
 * `webhook_subscriptions`, the configuration's list of repositories that want them.
 *
 * A delivery is queued by `queueTaskFinished`, which task-transitions.ts calls inside the
 * transaction that records a task's outcome: a finished task always has its delivery (when its
 * repository subscribes), and a crash never leaves a delivery for an outcome the store does not
 * hold. The sender (src/webhooks/sender.ts) then POSTs it and records each attempt here. Times are
 * milliseconds since the epoch.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from './database.ts';
import type { TaskStatus } from './task-queries.ts';

export type WebhookEvent = 'task.finished';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** Longest `last_error` stored; a receiver's error page can be long. */
const MAX_ERROR_CHARS = 500;

/**
 * The outcomes reported. Left out: `rejected` (answering a refused mail in any way would tell a
 * spoofer what gets through), `merged` (its handler's outcome is reported), `queued`/`running`
 * (not an end), and an `interrupted` that resumes after the restart (see `reportsFinished`).
 */
const REPORTED: ReadonlySet<TaskStatus> = new Set<TaskStatus>(['completed', 'failed', 'timeout', 'cancelled', 'budget_exceeded', 'paused', 'interrupted']);

/** Whether a move to `to` is an outcome the `task.finished` webhook reports. */
export function reportsFinished(to: TaskStatus, resumePending: boolean): boolean {
  if (to === 'interrupted') return !resumePending;
  return REPORTED.has(to);
}

/** The task as it finished, frozen into the delivery. */
export interface FinishedTaskSnapshot {
  readonly id: number;
  readonly status: TaskStatus;
  readonly conversationId: string | null;
  readonly sender: string | null;
  readonly subject: string;
  readonly costUsd: number | null;
  readonly turns: number | null;
  readonly error: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

export interface WebhookDelivery {
  readonly id: number;
  /** The UUID sent as X-Airut-Delivery (the same for every attempt). */
  readonly key: string;
  readonly repoId: string;
  readonly taskId: number;
  readonly event: WebhookEvent;
  readonly task: FinishedTaskSnapshot;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
  readonly deliveredAt: number | null;
}

interface Row {
  id: number;
  delivery_key: string;
  repo_id: string;
  task_id: number;
  event: WebhookEvent;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number;
  created_at: number;
  delivered_at: number | null;
}

const COLUMNS = `id, delivery_key, repo_id, task_id, event, payload, status, attempts, last_error, next_attempt_at, created_at, delivered_at`;

function toDelivery(r: Row): WebhookDelivery {
  return {
    id: r.id,
    key: r.delivery_key,
    repoId: r.repo_id,
    taskId: r.task_id,
    event: r.event,
    task: JSON.parse(r.payload) as FinishedTaskSnapshot,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

function clipError(error: string): string {
  const oneLine = error.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_ERROR_CHARS ? `${oneLine.slice(0, MAX_ERROR_CHARS - 1)}…` : oneLine;
}

/**
 * Replaces the subscriptions with `subscriptions` (repository id → events), in one transaction.
 * Deliveries already queued stay; the sender decides what to do with those of a repository that
 * no longer has a webhook.
 */
export function setSubscriptions(db: Db, subscriptions: Readonly<Record<string, readonly WebhookEvent[]>>): void {
  db.transaction(() => {
    db.prepare(`DELETE FROM webhook_subscriptions`).run();
    const insert = db.prepare(`INSERT OR IGNORE INTO webhook_subscriptions (repo_id, event) VALUES (?, ?)`);
    for (const [repoId, events] of Object.entries(subscriptions)) for (const e of events) insert.run(repoId, e);
  }).immediate();
}

/**
 * Queues a `task.finished` delivery for the task if its repository subscribes. Opens no
 * transaction: call it inside the one that records the outcome (task-transitions.ts does), after
 * the task row was updated, so the snapshot holds the outcome. A run is reported once: a second
 * outcome recorded for the same attempt (recovery gives up on a task, then the dispatcher records it
 * again with the sender's notice) keeps the first delivery. Returns the row id, or null.
 */
export function queueTaskFinished(db: Db, taskId: number, now: number): number | null {
  const row = db
    .prepare(
      `SELECT t.repo_id, t.id, t.attempts, t.status, t.conversation_id, t.sender, t.subject, t.cost_usd, t.turns, t.error, t.started_at, t.finished_at
         FROM tasks AS t JOIN webhook_subscriptions AS s ON s.repo_id = t.repo_id AND s.event = 'task.finished'
        WHERE t.id = ?`,
    )
    .get(taskId) as
    | {
        repo_id: string;
        id: number;
        attempts: number;
        status: TaskStatus;
        conversation_id: string | null;
        sender: string | null;
        subject: string;
        cost_usd: number | null;
        turns: number | null;
        error: string | null;
        started_at: number | null;
        finished_at: number | null;
      }
    | undefined;
  if (!row) return null;
  const snapshot: FinishedTaskSnapshot = {
    id: row.id,
    status: row.status,
    conversationId: row.conversation_id,
    sender: row.sender,
    subject: row.subject,
    costUsd: row.cost_usd,
    turns: row.turns,
    error: row.error,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
  const info = db
    .prepare(
      `INSERT OR IGNORE INTO webhook_deliveries (delivery_key, repo_id, task_id, task_attempt, event, payload, status, attempts, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, 'task.finished', ?, 'pending', 0, ?, ?)`,
    )
    .run(randomUUID(), row.repo_id, row.id, row.attempts, JSON.stringify(snapshot), now, now);
  return info.changes === 1 ? Number(info.lastInsertRowid) : null;
}

/** Pending deliveries due at `now`, oldest first. */
export function dueDeliveries(db: Db, now: number, limit = 50): WebhookDelivery[] {
  const rows = db
    .prepare(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?`)
    .all(now, Math.max(1, Math.floor(limit))) as Row[];
  return rows.map(toDelivery);
}

/** When the next pending delivery becomes due, or null when none is pending. */
export function nextDeliveryDueAt(db: Db): number | null {
  const row = db.prepare(`SELECT min(next_attempt_at) AS at FROM webhook_deliveries WHERE status = 'pending'`).get() as { at: number | null };
  return row.at;
}

/** Makes every pending delivery due at `now` (at start-up: the receiver may be back). Returns how many. */
export function makePendingDeliveriesDue(db: Db, now: number): number {
  return db.prepare(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE status = 'pending' AND next_attempt_at > ?`).run(now, now).changes;
}

/** A 2xx answer. False if the delivery was not pending. */
export function markDelivered(db: Db, id: number, now: number): boolean {
  return (
    db
      .prepare(`UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ? AND status = 'pending'`)
      .run(now, id).changes > 0
  );
}

/** A failed attempt; tried again at `nextAttemptAt`. */
export function markDeliveryRetry(db: Db, id: number, error: string, nextAttemptAt: number): boolean {
  return (
    db
      .prepare(`UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND status = 'pending'`)
      .run(clipError(error), nextAttemptAt, id).changes > 0
  );
}

/** Gives up: status `failed`, with the reason kept. `attempted` false when no request was made this time. */
export function markDeliveryFailed(db: Db, id: number, error: string, attempted = true): boolean {
  return (
    db
      .prepare(`UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + ?, last_error = ? WHERE id = ? AND status = 'pending'`)
      .run(attempted ? 1 : 0, clipError(error), id).changes > 0
  );
}

/** Every delivery of a task, oldest first. */
export function listDeliveriesForTask(db: Db, taskId: number): WebhookDelivery[] {
  const rows = db.prepare(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE task_id = ? ORDER BY id`).all(taskId) as Row[];
  return rows.map(toDelivery);
}

/** One delivery, or null. */
export function getDelivery(db: Db, id: number): WebhookDelivery | null {
  const row = db.prepare(`SELECT ${COLUMNS} FROM webhook_deliveries WHERE id = ?`).get(id) as Row | undefined;
  return row ? toDelivery(row) : null;
}
