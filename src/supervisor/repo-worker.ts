/**
 * The supervisor's handle on one repo listener thread: spawns it, serves it the supervisor API,
 * restarts it with backoff when it dies or is stuck, and stops it within a deadline.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import type { HeapInfo } from 'node:v8';
import type { RepoServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { DEFAULT_BACKOFF, backoffDelay } from '../threads/backoff.ts';
import { bundleExecArgv, startWorker } from '../threads/exec-argv.ts';
import { Lifeline, connectApi, serveApi, type Guarded } from '../threads/rpc.ts';
import {
  CONTROL_TIMEOUT_MS,
  listenerConfig,
  type RepoListenerApi,
  type RepoWorkerData,
  type SupervisorApi,
} from '../protocol/listener.ts';
import { Lifecycle, type LifecycleState } from '../lifecycle/lifecycle.ts';

/** The listener thread's TypeScript entry point; threads run its bundle (see src/threads/bundle.ts). */
export const LISTENER_ENTRY = new URL('../../workers/repo-listener.ts', import.meta.url);
/**
 * A listener's young generation is capped: V8 would otherwise let it grow to 3 × 16 MiB per
 * thread, multiplied by the number of repos, for a thread that parses one mail at a time (large
 * attachments are Buffers, outside the V8 heap).
 */
export const LISTENER_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4 };

/**
 * A listener whose event loop did not wait once in this long is stuck (a loop that never yields,
 * a synchronous call that never returns): it is terminated and restarted like a thread that died.
 * Checked from the thread's event-loop figures (`worker.performance`), which the main thread reads
 * without waking the listener: 100 idle listeners no longer answer 100 pings every 30 s.
 */
const STUCK_AFTER_MS = 30_000;
const STOP_GRACE_MS = 8_000;

export interface RepoWorkerOptions {
  readonly repo: RepoServerConfig;
  /** The API this repo's thread may call; already bound to this repo. */
  readonly api: SupervisorApi;
  readonly log: Logger;
  /** Called when the thread died unexpectedly (for status and metrics). */
  readonly onCrash?: (reason: string, restartInMs: number) => void;
  /** The JavaScript file the thread runs: the bundle of LISTENER_ENTRY (tests start a faulty one). */
  readonly entry: URL;
  /** Default STUCK_AFTER_MS (tests use less). */
  readonly stuckAfterMs?: number;
}

export class RepoWorker {
  /** A thread that died is `failed` until its restart begins (`starting` again). */
  private readonly life: Lifecycle;
  private worker: Worker | null = null;
  private control: Guarded<RepoListenerApi> | null = null;
  private crashes = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private livenessCheck: NodeJS.Timeout | null = null;
  /** Why the running thread was terminated by the supervisor, for the crash report when it exits. */
  private terminatedBecause: string | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stopPromise: Promise<void> | null = null;
  /** The repository's configuration; a reload may replace its screening part (update()). */
  private repo: RepoServerConfig;

  constructor(private readonly o: RepoWorkerOptions) {
    this.life = new Lifecycle(`repo listener ${o.repo.repoId}`);
    this.repo = o.repo;
  }

  /**
   * New screening rules for the running thread (no reconnect). A thread that restarts later starts
   * with them too. The caller restarts the worker instead when the connection settings changed.
   */
  async update(repo: RepoServerConfig): Promise<void> {
    this.repo = repo;
    if (this.control) await this.control.update(listenerConfig(repo));
  }

  get state(): LifecycleState {
    return this.life.state;
  }

  /** The thread's V8 heap figures (diagnosis and scripts/bench/listener-isolate.ts); null while no thread runs. */
  async heapStatistics(): Promise<HeapInfo | null> {
    // Worker#getHeapStatistics is Node 24's (and 22.16's); older type definitions do not list it.
    const w = this.worker as (Worker & { getHeapStatistics?: () => Promise<HeapInfo> }) | null;
    return w?.getHeapStatistics ? await w.getHeapStatistics() : null;
  }

  /** A V8 heap snapshot of the thread (JSON, streamed); null while no thread runs. */
  async heapSnapshot(): Promise<Readable | null> {
    return this.worker ? await this.worker.getHeapSnapshot() : null;
  }

  start(): void {
    this.life.to('starting');
    const toWorker = new MessageChannel(); // supervisor → listener calls
    const toSupervisor = new MessageChannel(); // listener → supervisor calls
    const data: RepoWorkerData = {
      listener: listenerConfig(this.repo),
      supervisorPort: toSupervisor.port2,
      controlPort: toWorker.port2,
    };
    const worker = startWorker(this.o.entry, {
      workerData: data,
      resourceLimits: LISTENER_RESOURCE_LIMITS,
      execArgv: bundleExecArgv(),
      transferList: [toSupervisor.port2, toWorker.port2],
      name: `repo:${this.o.repo.repoId}`,
    });
    this.worker = worker;
    this.startedAt = Date.now();
    serveApi(this.o.api, toSupervisor.port1);
    const lifeline = new Lifeline();
    this.control = connectApi<RepoListenerApi>(toWorker.port1, {
      peer: `repo listener ${this.o.repo.repoId}`,
      timeoutMs: CONTROL_TIMEOUT_MS,
      lifeline,
    });
    this.life.to('running');

    worker.on('error', (err) => {
      this.o.log.error({ err: err.stack ?? err.message }, 'repo listener thread threw');
    });
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        lifeline.cut(`thread exited with code ${code}`);
        toSupervisor.port1.close();
        toWorker.port1.close();
        this.clearLivenessCheck();
        this.worker = null;
        resolve();
        if (this.life.is('stopping', 'stopped')) return;
        const reason = this.terminatedBecause ?? `thread exited with code ${code}`;
        this.terminatedBecause = null;
        this.scheduleRestart(reason);
      });
    });
    this.watchLiveness(worker);
  }

  /** Terminates the thread when its event loop has not waited once for a whole STUCK_AFTER_MS. */
  private watchLiveness(worker: Worker): void {
    const windowMs = this.o.stuckAfterMs ?? STUCK_AFTER_MS;
    let last = worker.performance.eventLoopUtilization();
    this.livenessCheck = setInterval(() => {
      const now = worker.performance.eventLoopUtilization();
      const window = worker.performance.eventLoopUtilization(now, last);
      last = now;
      if (window.idle > 0 || this.worker !== worker || this.terminatedBecause) return;
      this.terminatedBecause = `thread stuck: its event loop did not wait once in ${Math.round(windowMs / 1000)} s`;
      this.o.log.error({ stuckForMs: windowMs }, 'repo listener thread is stuck; terminating it');
      void worker.terminate();
    }, windowMs);
    this.livenessCheck.unref();
  }

  private scheduleRestart(reason: string): void {
    // A thread that ran for a while before dying starts the backoff over.
    if (Date.now() - this.startedAt > DEFAULT_BACKOFF.stableAfterMs) this.crashes = 0;
    const wait = backoffDelay(DEFAULT_BACKOFF, this.crashes++);
    this.life.to('failed');
    this.o.log.error({ reason, restartInMs: wait }, 'repo listener thread died; restarting');
    this.o.onCrash?.(reason, wait);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.life.is('failed')) this.start();
    }, wait);
  }

  private clearLivenessCheck(): void {
    if (this.livenessCheck) clearInterval(this.livenessCheck);
    this.livenessCheck = null;
  }

  /** Idempotent. Asks the listener to log out; terminates the thread if it does not exit in time. */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.life.to('stopping');
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.clearLivenessCheck();
    const worker = this.worker;
    if (worker) {
      try {
        await this.control?.stop();
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'listener did not stop cleanly');
      }
      const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), STOP_GRACE_MS).unref());
      if ((await Promise.race([this.exited.then(() => 'exited' as const), deadline])) === 'late') {
        this.o.log.warn('listener thread did not exit in time; terminating it');
        await worker.terminate();
      }
    }
    this.life.to('stopped');
  }
}
