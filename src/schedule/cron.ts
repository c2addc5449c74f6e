/**
 * The one place that knows the cron library (croner). A schedule's expression is five fields
 * (minute hour day-of-month month day-of-week, as Airut and crontab(5) read them) in an IANA time
 * zone. DST follows Vixie cron, as croner documents: a fixed time that happens twice when clocks
 * go back runs once (the first time); a fixed time skipped when clocks go forward runs right
 * after the gap, on the same day. Everything here is pure: no timers, no clock.
 */
import { Cron } from 'croner';

export interface CronSpec {
  readonly cron: string;
  readonly timezone: string;
}

/** A parsed schedule expression that answers "when is the next slot after this instant?". */
export interface CronPlan {
  /** The first slot strictly after `after`, or null when the expression never matches again. */
  nextAfter(after: Date): Date | null;
}

/** True when `zone` is a time zone name this Node knows (`Europe/Helsinki`, `UTC`). */
export function isKnownTimeZone(zone: string): boolean {
  if (zone.trim() === '' || zone !== zone.trim()) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Why `cron` is not a usable five-field expression, or null when it is. */
export function cronProblem(cron: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `must have five fields (minute hour day-of-month month day-of-week), like "0 9 * * 1-5"; found ${fields.length}`;
  }
  try {
    const job = new Cron(cron.trim(), { paused: true, mode: '5-part', timezone: 'UTC' });
    // A pattern such as "0 0 31 2 *" parses but never runs; say so rather than never running it.
    if (job.nextRun(new Date(0)) === null) return 'never matches a date (check day-of-month against month)';
    return null;
  } catch (err) {
    return `is not a valid cron expression: ${(err as Error).message}`;
  }
}

/** Parses a spec the configuration rules have already checked. Throws on a bad one. */
export function planOf(spec: CronSpec): CronPlan {
  const job = new Cron(spec.cron.trim(), { paused: true, mode: '5-part', timezone: spec.timezone });
  return {
    nextAfter(after: Date): Date | null {
      return job.nextRun(after);
    },
  };
}
