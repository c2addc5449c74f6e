/**
 * The main thread's orchestrator: one listener thread per repo, the only writer of accepted mail,
 * and the one place that decides when the daemon starts and stops.
 */
import os from 'node:os';
import type { RepoServerConfig, ServerConfig } from '../config/types.ts';
import { logger, type Logger } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import type { IncomingMail } from '../protocol/incoming-mail.ts';
import { saveListenerStatus, noteMailSeen } from '../store/repo-status.ts';
import type { ListenerStatus } from '../protocol/listener-status.ts';
import { recordMails } from './record-mail.ts';
import { LISTENER_ENTRY, RepoWorker } from './repo-worker.ts';
import { ThreadBundles } from '../threads/bundle.ts';
import type { SupervisorApi } from '../protocol/listener.ts';
import type { StorageHealth } from '../health/storage-faults.ts';
import { Lifecycle, type LifecycleState } from '../lifecycle/lifecycle.ts';
import { StartGate } from './start-gate.ts';

const STARTING: ListenerStatus = { state: 'starting', detail: null, lastError: null, nextRetryAt: null };
/**
 * Listener threads starting at once: enough to overlap one's network waits (TLS, login) with
 * another's bundle evaluation, few enough that they do not thrash the cores between them.
 */
const START_CONCURRENCY = Math.max(4, 2 * os.availableParallelism());
/** A start that has not reported past connecting by then gives its slot to the next (an unreachable server). */
const START_SLOT_MS = 5_000;

export interface SupervisorOptions {
  /**
   * Called after a mail was recorded as a task (queued or rejected); `replyQueued` when a reply
   * explaining a limit was queued with it.
   */
  readonly onTaskRecorded?: (taskId: number, queued: boolean, replyQueued: boolean) => void;
  /** A repo's listener thread died and restarts after `restartInMs` (its status row says so too). */
  readonly onListenerCrash?: (repoId: string, reason: string, restartInMs: number) => void;
  /** The listener thread's entry module of a repo, when not the default (tests start a faulty one). */
  readonly listenerEntry?: (repoId: string) => URL | undefined;
  /** Where database errors of accept and status writes are reported for /health. */
  readonly storage?: StorageHealth;
}

export class Supervisor {
  private readonly life = new Lifecycle('supervisor');
  private readonly workers = new Map<string, RepoWorker>();
  /** Paces the first start of every configured listener (start-gate.ts); null before start(). */
  private startGate: StartGate | null = null;
  private stopPromise: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly bundles = new ThreadBundles();
  /** The build prepare() started, if any; stop() waits for it before removing the bundles. */
  private preparing: Promise<unknown> | null = null;

  private readonly onTaskRecorded: (taskId: number, queued: boolean, replyQueued: boolean) => void;

  constructor(
    private config: ServerConfig,
    private readonly db: Db,
    private readonly options: SupervisorOptions = {},
  ) {
    this.log = logger().child({ component: 'supervisor' });
    this.onTaskRecorded = options.onTaskRecorded ?? (() => {});
  }

  /** created → starting (bundling) → running (threads started) → stopping → stopped. */
  get state(): LifecycleState {
    return this.life.state;
  }

  /**
   * Starts building the listener bundle now, so that start() finds it built. The daemon calls it
   * first and then does its other start-up work (reaping containers, the network sandbox, the
   * runner pool, the dashboard) while esbuild, a separate process, builds: about a second less
   * before the first listener starts. A failed build is start()'s to report (it builds again).
   */
  prepare(): void {
    if (this.preparing || !this.life.is('created')) return;
    this.preparing = this.entriesOf(Object.values(this.config.repos)).catch(() => undefined);
  }

  /** Builds the listener bundle (unless prepare() has), then starts one listener thread per repo. */
  async start(): Promise<void> {
    this.life.to('starting'); // a second start is refused (LifecycleError)
    const repos = Object.values(this.config.repos);
    const builtAt = Date.now();
    let entries: URL[];
    try {
      entries = await this.entriesOf(repos);
    } catch (err) {
      if (this.life.is('starting')) this.life.to('failed');
      throw err;
    }
    this.log.debug({ ms: Date.now() - builtAt }, 'listener thread bundle built');
    if (!this.life.is('starting')) return; // stopped while building
    this.life.to('running');
    // Every repository shows as starting at once; the threads start a few at a time (start-gate.ts).
    for (const repo of repos) this.saveStatus(repo.repoId, STARTING);
    this.startGate = new StartGate(START_CONCURRENCY, START_SLOT_MS);
    void this.launchInTurn(repos.map((r) => r.repoId), entries, this.startGate);
    this.log.info({ repos: repos.map((r) => r.repoId), startConcurrency: START_CONCURRENCY }, 'supervisor started');
  }

  /**
   * Starts the configured listeners through the gate. Each is looked up again when its turn comes:
   * a reload meanwhile may have removed it (skipped) or started it already (startRepo).
   */
  private async launchInTurn(repoIds: readonly string[], entries: readonly URL[], gate: StartGate): Promise<void> {
    for (const [i, repoId] of repoIds.entries()) {
      await gate.take(repoId);
      if (!this.life.is('running')) return;
      const repo = this.config.repos[repoId];
      if (!repo || this.workers.has(repoId)) {
        gate.release(repoId);
        continue;
      }
      try {
        this.launch(repo, entries[i]!);
      } catch (err) {
        // Nothing awaits this loop: a thread that cannot even be created is this repository's error, not the daemon's.
        gate.release(repoId);
        this.log.error({ repo: repoId, err: (err as Error).message }, 'could not start the listener thread');
        this.saveStatus(repoId, { state: 'error', detail: 'listener thread could not start', lastError: (err as Error).message, nextRetryAt: null });
      }
    }
  }

  /** The configuration a reload applies: accept() reads a repository's rules and limits from it. */
  setConfig(config: ServerConfig): void {
    this.config = config;
  }

  /** Starts one repository's listener thread (a repository added by a reload). Does nothing when it runs. */
  async startRepo(repo: RepoServerConfig): Promise<void> {
    if (!this.life.is('running') || this.workers.has(repo.repoId)) return;
    const entry = await this.entryOf(repo.repoId);
    if (!this.life.is('running') || this.workers.has(repo.repoId)) return;
    this.launch(repo, entry);
    this.log.info({ repo: repo.repoId }, 'listener started');
  }

  /**
   * Stops one repository's listener thread: it logs out; mail it was handing over stays on the
   * server. The repository's queued and running tasks are not touched here.
   */
  async stopRepo(repoId: string): Promise<void> {
    const worker = this.workers.get(repoId);
    if (!worker) return;
    this.workers.delete(repoId);
    await worker.stop();
    this.log.info({ repo: repoId }, 'listener stopped');
  }

  /** Its inbox settings changed: this repository's listener logs out and starts again; no other is touched. */
  async restartRepo(repo: RepoServerConfig): Promise<void> {
    await this.stopRepo(repo.repoId);
    await this.startRepo(repo);
  }

  /** New screening rules for a running listener, without a reconnect. */
  async updateRepo(repo: RepoServerConfig): Promise<void> {
    try {
      await this.workers.get(repo.repoId)?.update(repo);
    } catch (err) {
      // The thread is restarting: it starts with the new rules (RepoWorker keeps them).
      this.log.warn({ repo: repo.repoId, err: (err as Error).message }, 'listener is restarting; it starts with the new rules');
    }
  }

  /** The bundle of each repository's listener entry, in order (one build per distinct entry). */
  private entriesOf(repos: readonly RepoServerConfig[]): Promise<URL[]> {
    return Promise.all(repos.map((repo) => this.entryOf(repo.repoId)));
  }

  private entryOf(repoId: string): Promise<URL> {
    return this.bundles.bundle(this.options.listenerEntry?.(repoId) ?? LISTENER_ENTRY);
  }

  private launch(repo: RepoServerConfig, entry: URL): void {
    const log = logger().child({ repo: repo.repoId, component: 'supervisor' });
    const worker = new RepoWorker({
      repo,
      api: this.apiFor(repo.repoId, log),
      log,
      onCrash: (reason, restartInMs) => {
        this.saveStatus(repo.repoId, {
          state: 'backoff',
          detail: 'listener thread restarting',
          lastError: reason,
          nextRetryAt: Date.now() + restartInMs,
        });
        this.options.onListenerCrash?.(repo.repoId, reason, restartInMs);
      },
      entry,
    });
    this.workers.set(repo.repoId, worker);
    this.saveStatus(repo.repoId, STARTING);
    worker.start();
  }

  /**
   * The API one repo's thread may call. It is bound to that repo: whatever repo id a message
   * claims, it is recorded for the repo whose thread sent it, so no thread can write for another.
   */
  private apiFor(repoId: string, log: Logger): SupervisorApi {
    return {
      acceptBatch: async (mails: readonly IncomingMail[]) => {
        if (!this.life.is('running')) {
          // Shutting down: the mail stays on the server and is fetched after the restart.
          throw new Error('supervisor is stopping; not accepting mail');
        }
        const repo = this.config.repos[repoId];
        if (!repo) throw new Error(`internal: no configuration for repo ${repoId}`);
        let recorded: Awaited<ReturnType<typeof recordMails>>;
        try {
          // Only the scheduler marks a task as a schedule's run, and only the task API as its own; nothing a listener hands over can.
          const fromListener = mails.map(({ schedule: _schedule, api: _api, ...mail }) => mail);
          recorded = await recordMails(this.db, repo, fromListener, Date.now(), this.config.global.rejectedMail);
          noteMailSeen(this.db, repoId);
        } catch (err) {
          // The mail stays on the server (the listener retries); /health shows why.
          this.options.storage?.report(err, 'write');
          throw err;
        }
        this.options.storage?.clear('database', ['write']);
        return recorded.map(({ replyQueued, verdict, ...outcome }, i) => {
          const mail = mails[i]!;
          if (outcome.kind === 'dropped') {
            // Nothing was recorded; the listener logs each at debug, so a flood cannot fill the log either.
            if (outcome.firstOfDay) {
              log.warn(
                { sender: mail.sender, sourceIp: mail.sourceIp ?? null, perSourcePerHour: this.config.global.rejectedMail.perSourcePerHour },
                'rejected mail from a source over rejected_mail.per_source_per_hour is being counted, not stored (logged once a day)',
              );
            }
            return outcome;
          }
          if (outcome.kind !== 'duplicate') this.onTaskRecorded(outcome.taskId, outcome.kind === 'queued', replyQueued);
          if (outcome.kind === 'rejected' && outcome.budgetSpent) {
            log.warn(
              { task: outcome.taskId, maxStoredBytesPerDay: this.config.global.rejectedMail.maxStoredBytesPerDay },
              "today's budget for stored rejected mail is spent: until midnight UTC rejected mail keeps its task row only (logged once a day)",
            );
          }
          if (verdict !== mail.verdict && verdict.action === 'reject') {
            log.warn({ task: outcome.taskId, sender: mail.sender, reason: verdict.reason, detail: verdict.detail, replyQueued }, 'mail refused by a rate limit');
          }
          log.debug({ task: outcome.taskId, outcome: outcome.kind, replyQueued }, 'mail recorded');
          return outcome;
        });
      },
      reportStatus: (status: ListenerStatus) => {
        if (status.state !== 'starting' && status.state !== 'connecting') this.startGate?.release(repoId);
        this.saveStatus(repoId, status);
      },
    };
  }

  private saveStatus(repoId: string, status: ListenerStatus): void {
    try {
      saveListenerStatus(this.db, repoId, status);
    } catch (err) {
      this.options.storage?.report(err, 'write');
      this.log.error({ repo: repoId, err: (err as Error).message }, 'cannot save listener status');
    }
  }

  /** Idempotent: every caller gets the same promise. Stops all listeners in parallel. */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.life.to('stopping');
    this.startGate?.close();
    this.log.info('stopping: listeners log out');
    const results = await Promise.allSettled([...this.workers.values()].map((w) => w.stop()));
    for (const r of results) {
      if (r.status === 'rejected') this.log.error({ err: String(r.reason) }, 'a listener failed to stop');
    }
    // A build prepare() started writes into the bundle directory: let it finish before removing it.
    await this.preparing;
    this.bundles.dispose();
    this.life.to('stopped');
    this.log.info('supervisor stopped');
  }
}
