/** The agent's events for one task, in order, as the dashboard shows them. */
import { writeTransaction, type Db } from './database.ts';

export interface TaskEventRow {
  readonly id: number;
  readonly taskId: number;
  readonly at: number;
  readonly kind: string;
  readonly data: unknown;
}

/** Event payloads are capped so one huge tool output cannot bloat the database. */
const MAX_EVENT_JSON = 64 * 1024;

export function appendTaskEvent(db: Db, taskId: number, kind: string, data: unknown, now: number = Date.now()): number {
  let json = JSON.stringify(data ?? null);
  if (json.length > MAX_EVENT_JSON) json = JSON.stringify({ truncated: true, preview: json.slice(0, MAX_EVENT_JSON) });
  return Number(db.prepare(`INSERT INTO task_events (task_id, at, kind, data) VALUES (?, ?, ?, ?)`).run(taskId, now, kind, json).lastInsertRowid);
}

/** The `api_retry` event of a retry after a transient API failure, and the task's retry count, together; returns the event id. */
export function recordApiRetry(db: Db, taskId: number, data: Record<string, unknown>, now: number = Date.now()): number {
  return writeTransaction(db, () => {
    db.prepare(`UPDATE tasks SET api_retries = api_retries + 1 WHERE id = ?`).run(taskId);
    return appendTaskEvent(db, taskId, 'api_retry', { type: 'api_retry', ...data }, now);
  });
}

/** Replaces the payload of a stored event (the truncation marker, once its final count is known); capped like appendTaskEvent. */
export function updateTaskEventData(db: Db, eventId: number, data: unknown): void {
  let json = JSON.stringify(data ?? null);
  if (json.length > MAX_EVENT_JSON) json = JSON.stringify({ truncated: true, preview: json.slice(0, MAX_EVENT_JSON) });
  db.prepare(`UPDATE task_events SET data = ? WHERE id = ?`).run(json, eventId);
}

export function listTaskEvents(db: Db, taskId: number, afterId = 0, limit = 5000): TaskEventRow[] {
  const rows = db
    .prepare(`SELECT id, task_id, at, kind, data FROM task_events WHERE task_id = ? AND id > ? ORDER BY id LIMIT ?`)
    .all(taskId, afterId, limit) as Array<{ id: number; task_id: number; at: number; kind: string; data: string }>;
  return rows.map((r) => ({ id: r.id, taskId: r.task_id, at: r.at, kind: r.kind, data: JSON.parse(r.data) as unknown }));
}

/**
 * The newest `result` event of the conversation's other tasks: the answer it last gave, as Claude
 * reported it (`result` of the stream-json result event), or null.
 */
export function lastConversationResult(db: Db, repoId: string, conversationId: string, exceptTaskId: number): unknown {
  const r = db
    .prepare(
      `SELECT e.data FROM task_events e JOIN tasks t ON t.id = e.task_id
       WHERE t.repo_id = ? AND t.conversation_id = ? AND e.kind = 'result' AND t.id <> ? ORDER BY e.id DESC LIMIT 1`,
    )
    .get(repoId, conversationId, exceptTaskId) as { data: string } | undefined;
  return r ? (JSON.parse(r.data) as { result?: unknown }).result : undefined;
}
