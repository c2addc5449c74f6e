/**
 * Records one slot of a schedule as a task, through the path every mail takes
 * (src/supervisor/record-mail.ts: rate limits and spending caps apply, one task row per mail),
 * from the synthetic message of src/schedule/synthetic-mail.ts.
 */
import type { RepoServerConfig, ScheduleConfig } from '../config/types.ts';
import type { RejectedMailPolicy } from '../limits/rejected-mail.ts';
import type { Db } from '../store/database.ts';
import { recordMail, type RecordOutcome } from '../supervisor/record-mail.ts';
import { scheduledMail } from './synthetic-mail.ts';

export async function recordScheduledRun(
  db: Db,
  repo: RepoServerConfig,
  schedule: ScheduleConfig,
  slot: number,
  policy: RejectedMailPolicy,
  now: number = Date.now(),
): Promise<RecordOutcome> {
  return recordMail(db, repo, await scheduledMail(repo, schedule, slot), now, policy);
}
