/**
 * The scheduler's durable state (migration 12): per repository and schedule, the newest cron slot
 * handled. Slots only move forward, one conditional UPDATE each, so a slot is taken once however
 * many timers or restarts race for it (the run's task is deduplicated separately, by the
 * Message-ID derived from the slot: src/schedule/synthetic-mail.ts).
 */
import { writeTransaction, type Db } from './database.ts';

/**
 * The newest slot handled for this schedule; a schedule seen for the first time starts at `now`
 * (its past slots are not run) and that start is stored.
 */
export function lastScheduleSlot(db: Db, repoId: string, schedule: string, now: number): number {
  return writeTransaction(db, () => {
    db.prepare(
      `INSERT INTO schedule_slots (repo_id, schedule, last_slot, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (repo_id, schedule) DO NOTHING`,
    ).run(repoId, schedule, now, now);
    const row = db.prepare(`SELECT last_slot FROM schedule_slots WHERE repo_id = ? AND schedule = ?`).get(repoId, schedule) as { last_slot: number };
    return row.last_slot;
  });
}

/** Moves the schedule to `slot`; false when it was already there or past it (another timer took it). */
export function advanceScheduleSlot(db: Db, repoId: string, schedule: string, slot: number, now: number): boolean {
  const r = db
    .prepare(`UPDATE schedule_slots SET last_slot = ?, updated_at = ? WHERE repo_id = ? AND schedule = ? AND last_slot < ?`)
    .run(slot, now, repoId, schedule, slot);
  return r.changes === 1;
}

/** Marks a task as a schedule's run, with the schedule's effort (null: the repository's). */
export function markScheduledTask(db: Db, taskId: number, schedule: string, effort: string | null): void {
  db.prepare(`UPDATE tasks SET schedule = ?, effort = COALESCE(?, effort) WHERE id = ?`).run(schedule, effort, taskId);
}

/** The schedule that started a task; null for a task started by mail. */
export function taskSchedule(db: Db, taskId: number): string | null {
  const row = db.prepare(`SELECT schedule FROM tasks WHERE id = ?`).get(taskId) as { schedule: string | null } | undefined;
  return row?.schedule ?? null;
}
