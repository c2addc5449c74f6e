/**
 * Which tasks can still have their request text filled in from their mail: no `task_requests` row
 * yet, and the raw message stored whole with its bytes still there (rejected mail keeps headers
 * only; retention may have emptied an old one). Read by src/dashboard/task-requests.ts, which
 * parses those mails for tasks that never ran or ran before migration 15.
 */
import type { Db } from './database.ts';

export interface RequestSource {
  readonly taskId: number;
  /** The stored raw message's size in bytes, so a caller can bound its work before reading it. */
  readonly size: number;
}

/** Of the given tasks, those without a request row whose whole mail is stored, in the order of the ids given. */
export function tasksMissingRequest(db: Db, taskIds: readonly number[]): RequestSource[] {
  if (taskIds.length === 0) return [];
  const rows = db
    .prepare(
      `SELECT t.id AS taskId, length(m.raw) AS size
         FROM tasks t JOIN messages m ON m.id = t.message_row
        WHERE t.id IN (SELECT value FROM json_each(?))
          AND m.stored = 'whole' AND length(m.raw) > 0
          AND NOT EXISTS (SELECT 1 FROM task_requests r WHERE r.task_id = t.id)`,
    )
    .all(JSON.stringify(taskIds)) as RequestSource[];
  const order = new Map(taskIds.map((id, i) => [id, i]));
  return rows.sort((a, b) => (order.get(a.taskId) ?? 0) - (order.get(b.taskId) ?? 0));
}

/**
 * Records a request read from the stored mail unless one is recorded already (the runner's row
 * wins: it is what the agent read), and returns the row as stored.
 */
export function fillTaskRequest(db: Db, taskId: number, r: { readonly text: string; readonly original: string }): { text: string; original: string } {
  db.prepare(`INSERT INTO task_requests (task_id, text, original) VALUES (?, ?, ?) ON CONFLICT (task_id) DO NOTHING`).run(taskId, r.text, r.original);
  return db.prepare(`SELECT text, original FROM task_requests WHERE task_id = ?`).get(taskId) as { text: string; original: string };
}
