/**
 * When each stage of a task's run began (see src/runner/stages/). A re-run after a restart adds
 * its own rows under its attempt number, so the latest row is where the task is now.
 */
import type { Db } from './database.ts';

export interface TaskStageRow {
  readonly taskId: number;
  readonly attempt: number;
  readonly stage: string;
  readonly at: number;
}

export function recordTaskStage(db: Db, taskId: number, attempt: number, stage: string, now: number = Date.now()): void {
  db.prepare(`INSERT INTO task_stages (task_id, attempt, stage, at) VALUES (?, ?, ?, ?)`).run(taskId, attempt, stage, now);
}

/** Every stage the task entered, oldest first. */
export function listTaskStages(db: Db, taskId: number): TaskStageRow[] {
  const rows = db.prepare(`SELECT task_id, attempt, stage, at FROM task_stages WHERE task_id = ? ORDER BY id`).all(taskId) as Array<{
    task_id: number;
    attempt: number;
    stage: string;
    at: number;
  }>;
  return rows.map((r) => ({ taskId: r.task_id, attempt: r.attempt, stage: r.stage, at: r.at }));
}

/** The stage the task entered last, or null when its runner has not reported one. */
export function currentTaskStage(db: Db, taskId: number): TaskStageRow | null {
  return listTaskStages(db, taskId).at(-1) ?? null;
}
