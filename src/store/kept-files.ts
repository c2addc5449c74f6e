/**
 * The bookkeeping of the files kept per task for the dashboard (the rows are task_files, see
 * task-content.ts; the copies themselves are written by src/task-files/keep.ts): how much a task
 * keeps already (its cap), whether its mail's files were kept already (a re-run after a crash), and
 * which kept files a conversation's archiving removes.
 */
import type { Db } from './database.ts';
import type { TaskFileDirection } from './task-content.ts';

/** Bytes of the task's files that are kept (not those recorded as not kept). */
export function keptFileBytes(db: Db, taskId: number): number {
  const row = db.prepare(`SELECT COALESCE(sum(size), 0) AS n FROM task_files WHERE task_id = ? AND path IS NOT NULL`).get(taskId) as {
    n: number;
  };
  return row.n;
}

/** Whether the task has files of that direction recorded, kept or not. */
export function hasTaskFiles(db: Db, taskId: number, direction: TaskFileDirection): boolean {
  return db.prepare(`SELECT 1 FROM task_files WHERE task_id = ? AND direction = ? LIMIT 1`).get(taskId, direction) !== undefined;
}

/** What an archived conversation's kept files say instead of a path. */
export const DELETED_WITH_CONVERSATION = 'deleted with the conversation';

/**
 * Marks the kept files of a conversation's tasks as not kept any more (their copies go with the
 * conversation's directory). Returns how many rows changed.
 */
export function forgetConversationFiles(db: Db, repoId: string, conversationId: string): number {
  return db
    .prepare(
      `UPDATE task_files SET path = NULL, note = ?
        WHERE path IS NOT NULL AND task_id IN (SELECT id FROM tasks WHERE repo_id = ? AND conversation_id = ?)`,
    )
    .run(DELETED_WITH_CONVERSATION, repoId, conversationId).changes;
}
