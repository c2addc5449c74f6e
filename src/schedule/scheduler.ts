/**
 * The timer shell around src/schedule/slots.ts, in the main thread. Each pass looks at every
 * enabled schedule of every repository, records the newest due slot as a task (through `record`,
 * the same accept path as mail), then moves the schedule's slot forward in SQLite
 * (src/store/schedule-slots.ts), and sleeps until the next slot of any schedule, at most
 * MAX_SLEEP_MS, so a wall-clock jump (suspend, NTP) is noticed within a minute.
 *
 * Order matters for "never twice, never lost": the record comes first and is idempotent per slot
 * (its Message-ID is derived from the slot), the slot moves after. A crash in between finds the
 * slot due again at start-up, and recording it again finds the first record.
 *
 * Lifecycle: idle → running → stopped. Passes never overlap; a kick during a pass runs one more.
 */
import type { RepoServerConfig, ScheduleConfig, ServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import { advanceScheduleSlot, lastScheduleSlot } from '../store/schedule-slots.ts';
import { planOf, type CronPlan } from './cron.ts';
import { dueSlot, nextSlot } from './slots.ts';

const MAX_SLEEP_MS = 60_000;

export interface SchedulerOptions {
  readonly db: Db;
  readonly log: Logger;
  /** Records one slot's run as a task; rejects when it could not (the slot then stays due). */
  readonly record: (repo: RepoServerConfig, schedule: ScheduleConfig, slot: number) => Promise<void>;
  /** The clock; tests inject one. */
  readonly now?: () => number;
}

type SchedulerState = 'idle' | 'running' | 'stopped';

export class Scheduler {
  private state: SchedulerState = 'idle';
  private repos: ServerConfig['repos'] = {};
  private readonly plans = new Map<string, CronPlan>();
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private again = false;
  private readonly now: () => number;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? Date.now;
  }

  start(repos: ServerConfig['repos']): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.setRepos(repos);
  }

  /** A reload: the next pass runs the new schedules (a removed schedule keeps its row, harmless). */
  setRepos(repos: ServerConfig['repos']): void {
    this.repos = repos;
    this.plans.clear();
    this.kick();
  }

  /** Runs a pass now (or right after the one in progress). Resolves when that pass is over. */
  kick(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    if (this.pass) {
      this.again = true;
      return this.pass;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pass = this.runPasses().finally(() => {
      this.pass = null;
      this.arm();
    });
    return this.pass;
  }

  /** Idempotent: no new pass starts; the pass in progress (a record underway) is awaited. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  private async runPasses(): Promise<void> {
    do {
      this.again = false;
      for (const repo of Object.values(this.repos)) {
        for (const schedule of Object.values(repo.schedules)) {
          if (this.state !== 'running') return;
          await this.visit(repo, schedule);
        }
      }
    } while (this.again && this.state === 'running');
  }

  private async visit(repo: RepoServerConfig, schedule: ScheduleConfig): Promise<void> {
    const { db, log } = this.options;
    const now = this.now();
    try {
      const last = lastScheduleSlot(db, repo.repoId, schedule.name, now);
      // A disabled schedule keeps up with time, so enabling it does not run a missed slot at once.
      if (!schedule.enabled) {
        advanceScheduleSlot(db, repo.repoId, schedule.name, now, now);
        return;
      }
      const slot = dueSlot(this.planFor(repo, schedule), last, now);
      if (slot === null) return;
      await this.options.record(repo, schedule, slot);
      advanceScheduleSlot(db, repo.repoId, schedule.name, slot, this.now());
      log.info({ repo: repo.repoId, schedule: schedule.name, slot: new Date(slot).toISOString() }, 'scheduled run queued');
    } catch (err) {
      log.error(
        { repo: repo.repoId, schedule: schedule.name, err: (err as Error).message },
        `scheduled run not queued; it is tried again within a minute (repos.${repo.repoId}.schedules.${schedule.name})`,
      );
    }
  }

  private planFor(repo: RepoServerConfig, schedule: ScheduleConfig): CronPlan {
    const key = `${repo.repoId}\u0000${schedule.name}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = planOf(schedule);
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** Sleeps until the next slot of any enabled schedule, at most MAX_SLEEP_MS. */
  private arm(): void {
    if (this.state !== 'running') return;
    const now = this.now();
    let wake = now + MAX_SLEEP_MS;
    for (const repo of Object.values(this.repos)) {
      for (const schedule of Object.values(repo.schedules)) {
        if (!schedule.enabled) continue;
        const next = nextSlot(this.planFor(repo, schedule), now);
        if (next !== null && next < wake) wake = next;
      }
    }
    // A few ms late rather than early: a timer that fires before the slot finds nothing due.
    this.timer = setTimeout(() => void this.kick(), Math.max(0, wake - now) + 5);
    this.timer.unref();
  }
}
