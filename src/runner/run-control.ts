/**
 * What surrounds one task's stages on a runner thread: the dispatcher's port (stop requests in,
 * progress out), the lease renewal, the report of each stage's start (stored with its time, posted
 * for the live dashboard), storage faults for /health, and the error reply of a run that threw.
 */
import type { Logger } from '../log/logger.ts';
import type { AirutError } from '../errors.ts';
import { renewLease } from '../store/task-queue.ts';
import { storageFaultOf } from '../health/storage-faults.ts';
import { UserFacingError } from './user-facing-error.ts';
import type { RunnerEnvironment, TaskContext } from './task-context.ts';
import type { CancelReason, DispatcherToRunner, RunTaskInput, RunTaskResult, RunnerToDispatcher, TaskStage } from '../protocol/runner.ts';

const LEASE_RENEW_MS = 30_000;

export class RunControl {
  readonly #abort = new AbortController();
  readonly #lease: NodeJS.Timeout;
  cancelReason: CancelReason | null = null;
  /** Takes the dispatcher's follow-up offers (live-follow-ups.ts); none: offers are declined. */
  onFollowUp: ((taskId: number) => void) | null = null;

  constructor(
    private readonly input: RunTaskInput,
    private readonly env: RunnerEnvironment,
    private readonly log: Logger,
  ) {
    input.port.on('message', (m: DispatcherToRunner) => {
      if (m.type === 'cancel' && !this.cancelReason) {
        this.cancelReason = m.reason;
        log.info({ reason: m.reason }, 'stop requested');
        this.#abort.abort();
      } else if (m.type === 'follow-up') {
        this.onFollowUp?.(m.taskId);
      }
    });
    this.#lease = setInterval(() => {
      // A throw here would be uncaught and kill the thread (and the task) over one failed write.
      try {
        renewLease(env.db, input.taskId);
      } catch (err) {
        this.reportStorageFault(err);
        log.warn({ err: (err as Error).message }, 'could not renew the task lease; trying again in 30 s');
      }
    }, LEASE_RENEW_MS);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  post(m: RunnerToDispatcher): void {
    try {
      this.input.port.postMessage(m);
    } catch {
      /* the dispatcher is gone; the store has everything */
    }
  }

  /** Stored with its time (the dashboard and the overhead benchmark read it) and posted for the live view. */
  enter(stage: TaskStage, ctx: TaskContext): void {
    const at = ctx.now();
    try {
      ctx.store.recordStage(stage, at);
    } catch (err) {
      // Only a report: the stage itself runs (and meets the same storage fault if it is real).
      this.reportStorageFault(err);
      this.log.warn({ stage, err: (err as Error).message }, 'could not record the start of a stage');
    }
    this.log.debug({ stage }, 'stage started');
    this.post({ type: 'stage', taskId: this.input.taskId, stage, at });
  }

  /** The error reply for a run that threw; a shutdown's stop is recorded as interrupted instead. */
  async failed(err: unknown, ctx: TaskContext): Promise<RunTaskResult> {
    this.reportStorageFault(err);
    const userMessage =
      err instanceof UserFacingError
        ? err.userMessage
        : 'Something went wrong inside the service while handling your message. The operator has the details in the log.';
    this.log.error({ code: (err as AirutError).code, err: (err as Error).message }, 'task failed');
    if (this.cancelReason === 'shutdown') return ctx.interrupt((err as Error).message);
    try {
      await ctx.reply({ kind: 'error', message: userMessage }, [], { status: 'failed', error: (err as Error).message });
    } catch (e) {
      // The store itself fails: the dispatcher fails the task (or the lease sweep requeues it).
      this.reportStorageFault(e);
      throw e;
    }
    return { taskId: this.input.taskId, status: 'failed' };
  }

  /** A disk or database error goes to the dispatcher for /health; the log line carries the path. */
  reportStorageFault(err: unknown): void {
    const fault = storageFaultOf(err, this.env.settings.databasePath);
    if (!fault) return;
    this.log.error({ path: fault.path, code: fault.code, err: fault.message }, fault.kind === 'database' ? 'database error' : 'disk error');
    this.post({ type: 'storage-fault', taskId: this.input.taskId, repoId: this.input.repo.repoId, fault });
  }

  close(): void {
    clearInterval(this.#lease);
    this.input.port.close();
  }
}
