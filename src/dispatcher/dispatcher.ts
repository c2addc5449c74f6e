/**
 * Runs queued tasks: at most `max_concurrent` at once across all repos (one Piscina thread each),
 * oldest first, one task per conversation at a time. The queue lives in SQLite, so queued tasks
 * survive a restart; a running task's runner holds a lease, and lapsed leases are requeued.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import { ABANDONED_ERROR, claimNextTask, finishTask, requeueLapsedTasks, type ClaimedTask } from '../store/task-queue.ts';
import { getTask } from '../store/task-queries.ts';
import { queuedFollowUpsOf } from '../store/task-merges.ts';
import { describeRefusal, type ExpectedTaskState } from '../store/task-transitions.ts';
import { writeTransaction } from '../store/database.ts';
import { finishTaskWithMail } from '../runner/notify-sender.ts';
import type { CancelReason, DispatcherToRunner, RunnerSettings, RunTaskInput, RunTaskResult, RunnerToDispatcher } from '../protocol/runner.ts';
import type { SandboxGlobals } from '../sandbox/task-network.ts';
import type { ExecutionBackend } from '../sandbox/execution-backend.ts';
import { createExecutionBackend, executionSettings } from '../sandbox/backend-factory.ts';
import type { StorageHealth } from '../health/storage-faults.ts';
import { Lifecycle, type LifecycleState } from '../lifecycle/lifecycle.ts';

const RUNNER_ENTRY = new URL('../../workers/task-runner.ts', import.meta.url);
const SWEEP_MS = 30_000;
/**
 * Piscina cannot change `maxThreads` after it is built, so the pool is sized to the largest
 * `max_concurrent` the schema allows and dispatch is gated by the configured limit, which a reload
 * changes (setConfig). Threads start on demand and end after `idleTimeout`, so the ceiling costs
 * nothing: at most `max_concurrent` tasks are ever handed to the pool.
 */
const POOL_CEILING = 64;
/**
 * With the Kubernetes backend a running task costs its runner thread little: it waits on the API
 * server and the pod's log, and the agent's CPU and memory are the cluster's. One thread per task
 * would make 200 remote tasks 200 isolates (~10 MiB each before any work), so remote tasks share
 * threads, this many each. The pool is sized to `max_concurrent` (200 → 13 threads), not to the
 * largest value a reload could set: when tasks queue in a cold pool, Piscina starts a thread per
 * queued task up to maxThreads and its balancer hands each task to an idle thread first, so a pool
 * sized for 1,000 ran a burst of 50 tasks on 50 threads, each building and hashing the tools image
 * (scripts/bench/kube-capacity.ts found it). A reload above the pool's room queues the extra tasks
 * until a thread has room; a restart resizes the pool.
 */
export const REMOTE_TASKS_PER_THREAD = 16;

interface RunningTask {
  readonly claim: ClaimedTask;
  readonly port: MessagePort;
  readonly done: Promise<void>;
  /** Queued mails of its conversation offered to it already (each is offered once). */
  readonly offered: Set<number>;
}

export interface DispatcherOptions {
  readonly config: ServerConfig;
  readonly db: Db;
  readonly log: Logger;
  /** A task produced mail (ack or reply) or finished: the sender should look now. */
  readonly onMailQueued?: () => void;
  /** Live progress for the dashboard. */
  readonly onRunnerMessage?: (m: RunnerToDispatcher) => void;
  /** Called for every task this dispatcher finishes: a run, a runner thread that died, an abandoned task, a task of a removed repository. */
  readonly onTaskFinished?: (taskId: number, status: string) => void;
  readonly onTaskStarted?: (taskId: number) => void;
  /** What the daemon prepared for the network sandbox at start-up. */
  readonly sandbox: SandboxGlobals;
  /** The runner threads' entry module; default workers/task-runner.ts (tests start a faulty one). */
  readonly runnerEntry?: URL;
  /** Where database errors of the queue are reported for /health. */
  readonly storage?: StorageHealth;
}

export class Dispatcher {
  private readonly life = new Lifecycle('dispatcher');
  private readonly pool: Piscina;
  private readonly running = new Map<number, RunningTask>();
  private ticking = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  /** Where the agents run; here only for its capacity and to reap after a failed runner. */
  private readonly backend: ExecutionBackend;
  /** The configuration tasks are launched with; a reload replaces it (setConfig). */
  private config: ServerConfig;
  /** Tasks that may run at once: `max_concurrent`, changed by a reload, never above `room`. */
  private limit: number;
  /** Tasks the runner pool can hold at once as started (threads × tasks per thread). */
  private readonly room: number;

  constructor(private readonly o: DispatcherOptions) {
    this.config = o.config;
    const g = o.config.global;
    const settings: RunnerSettings = {
      databasePath: g.databasePath,
      allowedModels: g.claude.allowedModels,
      dashboardBaseUrl: g.dashboard.baseUrl,
      imageBuildTimeoutSeconds: g.imageBuildTimeoutSeconds,
      imageMaxAgeHours: g.imageMaxAgeHours,
      taskOutput: g.taskOutput,
      execution: executionSettings(g, o.sandbox),
    };
    this.backend = createExecutionBackend(settings.execution);
    const shape = poolShape(settings.execution.backend, this.backend.capacity);
    this.room = shape.maxThreads * shape.concurrentTasksPerWorker;
    this.pool = new Piscina({
      filename: (o.runnerEntry ?? RUNNER_ENTRY).href,
      // Runner-wide settings reach each thread once; a task carries only what is about it.
      workerData: settings,
      ...shape,
      minThreads: 1,
      // Tasks are long and asynchronous (a container run); idle threads need not spin.
      atomics: 'disabled',
      idleTimeout: 60_000,
    });
    this.limit = this.backend.capacity;
  }

  /**
   * A reload: the next task is launched with the new repository settings. A higher
   * `max_concurrent` starts queued tasks now; a lower one lets running tasks finish and starts
   * new ones only below it.
   */
  setConfig(config: ServerConfig): void {
    this.config = config;
    const wanted = config.global.maxConcurrent;
    this.limit = Math.min(wanted, this.room);
    if (wanted > this.room) {
      // The pool's thread count is fixed when it starts (sized to max_concurrent for remote tasks);
      // a task handed to a full pool would wait inside it while its row says running.
      this.o.log.warn(
        { maxConcurrent: wanted, runningAtMost: this.room },
        `execution.max_concurrent ${wanted} is above the ${this.room} tasks the runner pool was started for; up to ${this.room} run until the daemon is restarted`,
      );
    }
    this.kick();
  }

  /** created → starting → running; `stopping` while running tasks drain, then `stopped`. */
  get state(): LifecycleState {
    return this.life.state;
  }

  /** Recovers what a previous process left running, then starts dispatching. */
  start(): void {
    this.life.to('starting');
    const recovered = requeueLapsedTasks(this.o.db, { all: true });
    if (recovered.requeued.length || recovered.abandoned.length) {
      this.o.log.warn(recovered, 'tasks interrupted by a previous process: requeued to resume, or abandoned after a second interruption');
    }
    void this.tellAbandoned(recovered.abandoned);
    this.life.to('running');
    this.timer = setInterval(() => this.kick(), 1_000);
    this.timer.unref();
    this.sweeper = setInterval(() => {
      // Tasks this process still runs are alive whatever their lease says (a busy runner thread).
      const lapsed = requeueLapsedTasks(this.o.db, { alive: new Set(this.running.keys()) });
      if (lapsed.requeued.length || lapsed.abandoned.length) this.o.log.warn(lapsed, 'tasks with lapsed leases');
      void this.tellAbandoned(lapsed.abandoned);
    }, SWEEP_MS);
    this.sweeper.unref();
    this.kick();
  }

  /** A task interrupted twice is not run a third time; its sender is told. */
  private async tellAbandoned(taskIds: readonly number[]): Promise<void> {
    for (const id of taskIds) {
      const row = getTask(this.o.db, id);
      const repo = row && this.config.repos[row.repoId];
      if (!repo) continue;
      try {
        await finishTaskWithMail(
          this.o.db,
          repo,
          id,
          {
            kind: 'error',
            message:
              'Your task was interrupted twice (the service restarted while it ran) and was not started again. Reply to this mail to continue the conversation.',
          },
          { status: 'interrupted', error: ABANDONED_ERROR },
          ['interrupted'],
        );
        this.o.onMailQueued?.();
        this.o.onTaskFinished?.(id, 'interrupted');
      } catch (err) {
        this.o.log.error({ task: id, err: (err as Error).message }, 'could not tell the sender about an abandoned task');
      }
    }
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Looks for runnable work now (new mail, a finished task). Cheap; coalesces calls. */
  kick(): void {
    if (!this.life.is('running')) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.again = false;
        while (this.life.is('running') && this.running.size < this.limit) {
          const claim = claimNextTask(this.o.db, Date.now(), Object.keys(this.config.repos));
          if (!claim) break;
          this.launch(claim);
        }
        this.offerFollowUps();
      } while (this.again);
    } catch (err) {
      this.o.storage?.report(err, 'write');
      this.o.log.error({ err: (err as Error).message }, 'dispatch failed; retrying in a second');
    } finally {
      this.ticking = false;
    }
  }

  private launch(claim: ClaimedTask): void {
    const repo = this.config.repos[claim.task.repoId];
    const log = this.o.log.child({ repo: claim.task.repoId, task: claim.task.id, conversation: claim.conversationId });
    if (!repo) {
      // Only tasks of configured repos are claimed; this is a task claimed while a reload removed its repo.
      // No reply is possible: the repo's SMTP account is gone with its configuration.
      log.error('task belongs to a repository that is no longer configured; marking it failed');
      // Just claimed by this thread, so the row is this run; a refusal would mean another process shares the database.
      const run: ExpectedTaskState = { status: 'running', attempt: claim.task.attempts };
      const failed = writeTransaction(this.o.db, () =>
        finishTask(this.o.db, claim.task.id, run, { status: 'failed', error: 'repository no longer configured' }),
      );
      if (!failed.applied) log.warn({ refused: failed.reason }, describeRefusal(claim.task.id, run, 'failed', failed));
      else this.o.onTaskFinished?.(claim.task.id, 'failed');
      return;
    }
    const channel = new MessageChannel();
    channel.port1.on('message', (m: RunnerToDispatcher) => {
      if (m.type === 'mail-queued' || (m.type === 'event' && (m.kind === 'result' || m.kind === 'system_init'))) this.o.onMailQueued?.();
      this.o.onRunnerMessage?.(m);
    });
    const input: RunTaskInput = {
      taskId: claim.task.id,
      conversationId: claim.conversationId,
      isNewConversation: claim.isNewConversation,
      isResume: claim.isResume,
      resumedFromPause: claim.resumedFromPause,
      repo,
      companionRepos: Object.fromEntries(Object.keys(repo.companions).flatMap((id) => (this.config.repos[id] ? [[id, this.config.repos[id]]] : []))),
      port: channel.port2,
    };
    log.info({ newConversation: claim.isNewConversation, resume: claim.isResume, resumedFromPause: claim.resumedFromPause, coalesced: claim.coalesced }, 'dispatching task');
    const done = this.pool
      .run(input, { transferList: [channel.port2] })
      .then((r: RunTaskResult) => {
        this.o.onTaskFinished?.(r.taskId, r.status);
      })
      .catch(async (err: unknown) => {
        // The runner thread died (or threw before it could record an outcome). Only this task fails.
        log.error({ err: describeRunnerError(err) }, 'task runner failed; failing the task');
        // A thread that died mid-run left its container (and network sidecar) running; stop them
        // before telling the sender, so nothing keeps changing the workspace after the reply.
        await this.removeContainersOf(claim.task.id, log);
        try {
          const told = await finishTaskWithMail(
            this.o.db,
            repo,
            claim.task.id,
            { kind: 'error', message: 'The worker running your task stopped unexpectedly. The operator has the details in the log; reply to this mail to try again.' },
            { status: 'failed', error: `runner thread failed: ${describeRunnerError(err)}` },
            ['running'],
            // The run this dispatcher launched: a row requeued and claimed again meanwhile is another run.
            claim.task.attempts,
          );
          if (!told) log.warn({ status: getTask(this.o.db, claim.task.id)?.status }, 'the task was not failed: it had left this run meanwhile, or has no sender to tell');
        } catch (e) {
          this.o.storage?.report(e, 'write');
          log.error({ err: (e as Error).message }, 'could not record the failure');
        }
        this.o.onTaskFinished?.(claim.task.id, 'failed');
      })
      .finally(() => {
        channel.port1.close();
        this.running.delete(claim.task.id);
        this.o.onMailQueued?.();
        this.kick();
      });
    this.running.set(claim.task.id, { claim, port: channel.port1, done, offered: new Set() });
    this.o.onTaskStarted?.(claim.task.id);
  }

  /**
   * Offers each queued mail of a running task's conversation to that task's runner, once: it
   * delivers it live into the session while it can (store/task-merges.ts mergeLive), else the
   * mail stays queued and is coalesced into the conversation's next run.
   */
  private offerFollowUps(): void {
    const running = [...this.running.values()].map((r) => ({ taskId: r.claim.task.id, repoId: r.claim.task.repoId, conversationId: r.claim.conversationId }));
    for (const { taskId, runningTaskId } of queuedFollowUpsOf(this.o.db, running)) {
      const r = this.running.get(runningTaskId);
      if (!r || r.offered.has(taskId)) continue;
      r.offered.add(taskId);
      const m: DispatcherToRunner = { type: 'follow-up', taskId };
      r.port.postMessage(m);
    }
  }

  /** Removes the containers this instance started for a task; failures are logged (start-up reaps again). */
  private async removeContainersOf(taskId: number, log: Logger): Promise<void> {
    try {
      const { reaped, failed } = await this.backend.reap({ taskId, graceSeconds: 2 });
      if (reaped.length) log.warn({ containers: reaped.map((c) => c.name) }, 'removed containers the failed runner left behind');
      for (const f of failed) log.error({ container: f.container.name, err: f.error }, 'could not remove a container the failed runner left behind');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'cannot list containers after a runner failure');
    }
  }

  /** Asks a running task to stop. Returns false when it is not running here. */
  cancelRunning(taskId: number, reason: CancelReason): boolean {
    const r = this.running.get(taskId);
    if (!r) return false;
    const m: DispatcherToRunner = { type: 'cancel', reason };
    r.port.postMessage(m);
    return true;
  }

  /**
   * Stops taking work; running tasks get `graceMs` to finish, then are stopped (their containers
   * too) and recorded as `interrupted`, to run again after the restart. Idempotent.
   */
  private stopPromise: Promise<void> | null = null;
  stop(graceMs: number): Promise<void> {
    this.stopPromise ??= this.doStop(graceMs);
    return this.stopPromise;
  }

  private async doStop(graceMs: number): Promise<void> {
    this.life.to('stopping');
    if (this.timer) clearInterval(this.timer);
    if (this.sweeper) clearInterval(this.sweeper);
    const all = () => Promise.allSettled([...this.running.values()].map((r) => r.done));
    if (this.running.size) {
      this.o.log.info({ running: [...this.running.keys()], graceMs }, 'waiting for running tasks to finish');
      const inTime = await Promise.race([all().then(() => true), sleep(graceMs).then(() => false)]);
      if (!inTime) {
        this.o.log.warn({ running: [...this.running.keys()] }, 'shutdown timeout reached; stopping running tasks');
        for (const id of this.running.keys()) this.cancelRunning(id, 'shutdown');
        await Promise.race([all(), sleep(30_000)]);
      }
    }
    await this.pool.destroy();
    this.life.to('stopped');
  }
}

/**
 * What a failed runner thread rejected with, as text. Not always an Error: a value that crossed the
 * thread boundary arrives as a plain object, which String() would turn into "[object Object]".
 */
function describeRunnerError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err !== null && typeof err === 'object') {
    try {
      return JSON.stringify(err).slice(0, 2000);
    } catch {
      /* fall through */
    }
  }
  return String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Threads and tasks per thread of the runner pool, by where the agents run. */
export function poolShape(backend: 'container' | 'kubernetes', capacity: number): { maxThreads: number; concurrentTasksPerWorker: number } {
  if (backend === 'kubernetes') {
    return { maxThreads: Math.ceil(capacity / REMOTE_TASKS_PER_THREAD), concurrentTasksPerWorker: REMOTE_TASKS_PER_THREAD };
  }
  return { maxThreads: Math.max(POOL_CEILING, capacity), concurrentTasksPerWorker: 1 };
}
