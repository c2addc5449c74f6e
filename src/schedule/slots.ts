/**
 * Which cron slot is due, given the newest slot already handled and the time now: pure, no clock.
 * Slots missed while the daemon was down collapse into the newest one (run once at start-up, not
 * once per missed slot), the behaviour of Airut and of anacron-style schedulers.
 */
import type { CronPlan } from './cron.ts';

const HOUR = 3_600_000;
/** Look-back windows tried in turn; each search walks the slots of one window only. */
const WINDOWS = [HOUR, 24 * HOUR, 32 * 24 * HOUR, 367 * 24 * HOUR, 5 * 367 * 24 * HOUR];
/** A window with more slots than this (a minutely schedule over years) is searched from its end. */
const MAX_STEPS = 200_000;

/** The newest slot in (lastSlot, now], or null when none is due. */
export function dueSlot(plan: CronPlan, lastSlot: number, now: number): number | null {
  const first = plan.nextAfter(new Date(lastSlot));
  if (first === null || first.getTime() > now) return null;
  // At least one slot is due; find the newest without walking every slot since lastSlot.
  for (const window of WINDOWS) {
    const from = Math.max(lastSlot, now - window);
    const found = newestIn(plan, from, now);
    if (found !== null) return found;
  }
  return newestIn(plan, lastSlot, now) ?? first.getTime();
}

/** The newest slot in (from, now], walking forward from `from`; null when there is none. */
function newestIn(plan: CronPlan, from: number, now: number): number | null {
  let newest: number | null = null;
  let at = new Date(from);
  for (let step = 0; step < MAX_STEPS; step++) {
    const next = plan.nextAfter(at);
    if (next === null || next.getTime() > now) return newest;
    newest = next.getTime();
    at = next;
  }
  return newest;
}

/** When the next slot after `now` comes; null when the expression never matches again. */
export function nextSlot(plan: CronPlan, now: number): number | null {
  return plan.nextAfter(new Date(now))?.getTime() ?? null;
}

/** The Message-ID of a slot's run: the same for the same (repository, schedule, slot), so accept dedupes it. */
export function slotMessageId(repoId: string, schedule: string, slot: number, domain: string): string {
  return `<airut-schedule.${repoId}.${schedule}.${slot}@${domain}>`;
}
