/**
 * The request texts of tasks, for the task and conversation pages. Placeholder of the thread part
 * of issue 20: it returns what `task_requests` holds. The capture part replaces this file with one
 * that also fills a missing text from the stored raw message; keep the signature.
 */
import type { Db } from '../store/database.ts';
import { getTaskRequests, type TaskRequest } from '../store/task-content.ts';
import type { TaskRow } from '../store/task-queries.ts';

export async function taskRequests(db: Db, tasks: readonly TaskRow[]): Promise<Map<number, TaskRequest>> {
  return getTaskRequests(db, tasks.map((t) => t.id));
}
