/**
 * The text a task answered (its last reply, error or notice, as composed), kept whether or not it
 * was mailed: a task submitted over the API without a reply address has no mail to read it from.
 */
import type { Db } from './database.ts';

export interface TaskResult {
  readonly text: string;
  readonly isError: boolean;
}

/** Call inside the transaction that records the reply; a later reply of the task replaces it. */
export function saveTaskResult(db: Db, taskId: number, result: TaskResult, now: number = Date.now()): void {
  db.prepare(
    `INSERT INTO task_results (task_id, text, is_error, at) VALUES (?, ?, ?, ?)
     ON CONFLICT (task_id) DO UPDATE SET text = excluded.text, is_error = excluded.is_error, at = excluded.at`,
  ).run(taskId, result.text, result.isError ? 1 : 0, now);
}

export function getTaskResult(db: Db, taskId: number): TaskResult | null {
  const r = db.prepare(`SELECT text, is_error FROM task_results WHERE task_id = ?`).get(taskId) as { text: string; is_error: number } | undefined;
  return r ? { text: r.text, isError: r.is_error === 1 } : null;
}
