/**
 * The running daemon: builds its parts, starts them in order and stops them in reverse. One
 * instance per process. What the parts say to each other is wired here and handled elsewhere: the
 * live feed (src/feed/), the routing of runner messages (src/daemon/runner-messages.ts), the
 * dashboard's operator actions (src/daemon/operator-actions.ts), storage faults (src/health/).
 *
 * Start: database (migrations) → remove containers a killed process left → storage probe → mail sender →
 * webhook sender → dispatcher (requeues tasks a previous process left running) → dashboard → listeners → scheduler (a slot missed
 * while stopped runs now, once) → conversation GC (sweeps now, then hourly) → configuration watcher (a change, or
 * SIGHUP, runs reload()). Stop: scheduler (no new scheduled task) → configuration watcher (a reload in progress finishes) → conversation GC → listeners (no new mail), storage probe → dispatcher (running tasks
 * get `shutdown_timeout`, then are interrupted) → mail sender (flush what is due) → webhook sender → dashboard → database.
 * A stop that arrives while the daemon starts ends the start-up after the step in progress.
 */
import type { ServerConfig } from '../config/types.ts';
import { logger } from '../log/logger.ts';
import { openDatabase, type Db } from '../store/database.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { Dispatcher } from '../dispatcher/dispatcher.ts';
import { OutgoingMailSender } from '../reply/outbox-sender.ts';
import { WebhookSender } from '../webhooks/sender.ts';
import { prepareSandbox } from '../sandbox/prepare-sandbox.ts';
import type { SandboxGlobals } from '../sandbox/task-network.ts';
import { createExecutionBackend, executionSettings } from '../sandbox/backend-factory.ts';
import type { PodGateway } from '../sandbox/kubernetes/pod-gateway.ts';
import { prepareKubernetes } from '../sandbox/kubernetes/prepare-kubernetes.ts';
import { startDashboard, type RunningDashboard } from '../dashboard/server.ts';
import { getTask } from '../store/task-queries.ts';
import { ConversationSweeper } from '../gc/conversation-sweeper.ts';
import { StorageHealth } from '../health/storage-faults.ts';
import { RunnerFaults } from '../health/runner-faults.ts';
import { probeTargets, startStorageProbe } from '../health/storage-probe.ts';
import { LiveFeed } from '../feed/live-feed.ts';
import { Lifecycle, type LifecycleState } from '../lifecycle/lifecycle.ts';
import { operatorActions } from './operator-actions.ts';
import { routeRunnerMessage } from './runner-messages.ts';
import { ConfigError } from '../errors.ts';
import { describeDiff, isEmptyDiff, planReload } from '../config/config-diff.ts';
import { watchConfigFile, type ConfigWatcher } from '../config/config-watcher.ts';
import { secretValuesOf } from '../config/secret-values.ts';
import { registerSecretValues } from '../log/logger.ts';
import type { ConfigNotice } from '../dashboard/options.ts';
import { applyReloadPlan, type ReloadResult } from './reload.ts';
import { failedRepoHealth, loadForReload, problemLines, type FailedRepo } from './failed-repos.ts';
import { Scheduler } from '../schedule/scheduler.ts';
import { recordScheduledRun } from '../schedule/record-run.ts';

export type { ReloadResult } from './reload.ts';

const FLUSH_ON_STOP_MS = 5_000;
/** How often the storage directories are checked for writes (see health/storage-probe.ts). */
const STORAGE_PROBE_MS = 10_000;

export class Daemon {
  private readonly life = new Lifecycle('daemon');
  private db: Db | null = null;
  private supervisor: Supervisor | null = null;
  private dispatcher: Dispatcher | null = null;
  private sender: OutgoingMailSender | null = null;
  private webhooks: WebhookSender | null = null;
  /** The Kubernetes backend's way in for pods (state bundles, the proxy); null with the container backend. */
  private gateway: PodGateway | null = null;
  private dashboard: RunningDashboard | null = null;
  private sweeper: ConversationSweeper | null = null;
  private scheduler: Scheduler | null = null;
  private probe: { stop(): void } | null = null;
  private readonly storage: StorageHealth;
  private readonly runnerFaults: RunnerFaults;
  /** Live changes for the dashboard. */
  private readonly feed = new LiveFeed();
  private stopPromise: Promise<void> | null = null;
  private readonly log = logger().child({ component: 'daemon' });
  private watcher: ConfigWatcher | null = null;
  /** Set while the file on disk was refused by a reload; shown on /health and the dashboard. */
  private configNotice: ConfigNotice | null = null;
  /** Repositories a resilient start or reload left out (invalid configuration); on /health until a reload fixes them. */
  private failedRepos: readonly FailedRepo[];
  /** Reloads run one after the other. */
  private reloadChain: Promise<unknown> = Promise.resolve();

  /**
   * `config` is what runs; a reload replaces it. `options.loadEnv` gives what `!env` reads on a
   * reload, read again each time (the process environment and the .env file; default process.env); `options.watchConfig: false` leaves the file unwatched (SIGHUP only).
   * `options.resilient` (`--resilient`; a file with `execution.resilient_start: true` counts too): `options.failedRepos` are the repositories the start
   * left out, and a reload may leave out repositories that are not running (src/daemon/failed-repos.ts).
   */
  constructor(
    private config: ServerConfig,
    private readonly options: {
      readonly loadEnv?: () => NodeJS.ProcessEnv;
      readonly watchConfig?: boolean;
      readonly resilient?: boolean;
      readonly failedRepos?: readonly FailedRepo[];
    } = {},
  ) {
    this.failedRepos = options.failedRepos ?? [];
    this.storage = new StorageHealth({ databasePath: config.global.databasePath, log: logger().child({ component: 'storage' }) });
    this.runnerFaults = new RunnerFaults(this.storage, config.repos);
  }

  get state(): LifecycleState {
    return this.life.state;
  }

  async start(): Promise<void> {
    this.life.to('starting');
    try {
      const db = this.openStore();
      // The listener bundle builds while the steps before the listeners run.
      this.createSupervisor(db).prepare();
      await this.reapOrphanContainers();
      if (this.stopRequested()) return;
      const sandbox = await this.prepareKubernetes(await this.prepareNetworkSandbox());
      if (this.stopRequested()) return;
      this.startStorageProbe();
      const sender = this.startSender(db);
      this.startWebhooks(db);
      const dispatcher = this.startDispatcher(db, sender, sandbox);
      await this.startDashboard(db, dispatcher, sender);
      if (this.stopRequested()) return;
      await this.startListeners();
      if (this.stopRequested()) return;
      this.startScheduler(db, dispatcher, sender);
      this.startSweeper(db);
      this.startConfigWatcher();
      this.life.to('running');
      this.logRunning();
    } catch (err) {
      if (this.life.is('starting')) this.life.to('failed');
      throw err;
    }
  }

  /** stop() was called while start() awaited a step: the start-up ends there, stop() undoes it. */
  private stopRequested(): boolean {
    return !this.life.is('starting');
  }

  private openStore(): Db {
    this.db = openDatabase(this.config.global.databasePath, {
      migrate: true,
      log: logger().child({ component: 'store' }),
      ownPaths: Object.values(this.config.repos).map((r) => r.storageDir),
    });
    return this.db;
  }

  /** After the reaping: a sidecar that was still running would hold sockets in these directories. */
  private async prepareNetworkSandbox(): Promise<SandboxGlobals> {
    const sandbox = await prepareSandbox(this.config);
    if (sandbox.leftovers) this.log.warn({ count: sandbox.leftovers }, 'removed network sandbox directories left by a previous process');
    return sandbox.globals;
  }

  /** The Kubernetes backend's start-up work (gateway, tools image); the sandbox globals it returns go to the runners. */
  private async prepareKubernetes(sandbox: SandboxGlobals): Promise<SandboxGlobals> {
    const prepared = await prepareKubernetes(executionSettings(this.config.global), sandbox, this.log);
    if (!prepared) return sandbox;
    this.gateway = prepared.gateway;
    return prepared.sandbox;
  }

  /** Disk and database health, checked now and then every STORAGE_PROBE_MS (never overlapping). */
  private startStorageProbe(): void {
    this.probe = startStorageProbe(probeTargets(this.config), this.storage, {
      databasePath: this.config.global.databasePath,
      everyMs: STORAGE_PROBE_MS,
      log: this.log,
    });
  }

  private startSender(db: Db): OutgoingMailSender {
    const sender = new OutgoingMailSender(db, this.config.repos, logger().child({ component: 'mail-sender' }), { storage: this.storage });
    this.sender = sender;
    sender.start();
    return sender;
  }

  /** Before the dispatcher: its recovery may finish tasks, and their webhooks are queued by then. */
  private startWebhooks(db: Db): void {
    const daemon = this;
    this.webhooks = new WebhookSender(db, this.config.repos, logger().child({ component: 'webhooks' }), {
      dashboardBaseUrl: () => daemon.config.global.dashboard.baseUrl,
    });
    this.webhooks.start();
  }

  private startDispatcher(db: Db, sender: OutgoingMailSender, sandbox: SandboxGlobals): Dispatcher {
    const dispatcher = new Dispatcher({
      config: this.config,
      db,
      log: logger().child({ component: 'dispatcher' }),
      onMailQueued: () => sender.kick(),
      onTaskStarted: (taskId) => this.feed.taskChanged(taskId),
      onRunnerMessage: (m) => routeRunnerMessage(m, { feed: this.feed, faults: this.runnerFaults }),
      onTaskFinished: (taskId, status) => {
        this.feed.taskChanged(taskId);
        this.webhooks?.kick();
        this.runnerFaults.taskFinished(status, () => getTask(db, taskId)?.repoId);
      },
      storage: this.storage,
      sandbox,
    });
    this.dispatcher = dispatcher;
    dispatcher.start();
    return dispatcher;
  }

  private async startDashboard(db: Db, dispatcher: Dispatcher, sender: OutgoingMailSender): Promise<void> {
    if (!this.config.global.dashboard.enabled) return;
    // Getters: a reload replaces the configuration, and the dashboard reads it per request.
    const daemon = this;
    this.dashboard = await startDashboard({
      get config() {
        return daemon.config;
      },
      db,
      actions: operatorActions({
        db,
        get repos() {
          return daemon.config.repos;
        },
        cancelRunning: (taskId, reason) => dispatcher.cancelRunning(taskId, reason),
        feed: this.feed,
        mailQueued: () => sender.kick(),
        taskFinished: () => this.webhooks?.kick(),
        taskQueued: () => dispatcher.kick(),
        get rejectedMail() {
          return daemon.config.global.rejectedMail;
        },
      }),
      feed: this.feed,
      log: logger().child({ component: 'dashboard' }),
      healthProblems: () => [...this.storage.problems(), ...failedRepoHealth(this.failedRepos)],
      configNotice: () => this.configNotice,
      failedRepos: () => this.failedRepos.map((f) => ({ id: f.id, problems: problemLines(f) })),
    });
    this.log.info({ url: this.dashboard.url }, 'dashboard listening');
  }

  /** A reload changed dashboard.host/port/token/…: open live streams end, the server listens anew. */
  private async rebindDashboard(): Promise<void> {
    const old = this.dashboard;
    this.dashboard = null;
    await old?.close();
    if (this.db && this.dispatcher && this.sender) await this.startDashboard(this.db, this.dispatcher, this.sender);
    if (!this.config.global.dashboard.enabled) this.log.info('dashboard turned off by a reload');
  }

  /**
   * Made first, so that its bundle builds during the rest of the start-up; its threads start only
   * in startListeners(), once the dispatcher and the mail sender it kicks exist.
   */
  private createSupervisor(db: Db): Supervisor {
    this.supervisor = new Supervisor(this.config, db, {
      onTaskRecorded: (taskId, queued, replyQueued) => {
        this.feed.taskChanged(taskId);
        if (queued) this.dispatcher?.kick();
        if (replyQueued) this.sender?.kick();
      },
      storage: this.storage,
    });
    return this.supervisor;
  }

  private async startListeners(): Promise<void> {
    await this.supervisor?.start();
  }

  /** Scheduled runs are recorded like mail (src/schedule/record-run.ts) and handed to the dispatcher the same way. */
  private startScheduler(db: Db, dispatcher: Dispatcher, sender: OutgoingMailSender): void {
    this.scheduler = new Scheduler({
      db,
      log: logger().child({ component: 'scheduler' }),
      record: async (repo, schedule, slot) => {
        const outcome = await recordScheduledRun(db, repo, schedule, slot, this.config.global.rejectedMail);
        if (outcome.kind === 'dropped') return;
        this.feed.taskChanged(outcome.taskId);
        if (outcome.kind === 'queued') dispatcher.kick();
        if (outcome.replyQueued) sender.kick();
      },
    });
    this.scheduler.start(this.config.repos);
  }

  /** After the dispatcher requeued interrupted work, so the sweep sees it as pending. */
  private startSweeper(db: Db): void {
    const daemon = this;
    this.sweeper = new ConversationSweeper({
      db,
      // A getter: the hourly sweep covers the repositories a reload added.
      get repos() {
        return daemon.config.repos;
      },
      maxAgeDays: this.config.global.conversationMaxAgeDays,
      images: createExecutionBackend(executionSettings(this.config.global)),
      log: logger().child({ component: 'gc' }),
    });
    this.sweeper.start();
  }

  private logRunning(): void {
    this.log.info(
      {
        repos: Object.keys(this.config.repos),
        database: this.config.global.databasePath,
        maxConcurrent: this.config.global.maxConcurrent,
        pid: process.pid,
      },
      'airut-ts is running',
    );
    for (const f of this.failedRepos) this.log.error({ repo: f.id, problems: problemLines(f) }, 'repository left out: its configuration is invalid; fix it and reload');
  }

  /**
   * Containers labelled by us that outlived their process (SIGKILL, power loss). Their tasks are
   * still `running` in the database and are requeued by the dispatcher right after this.
   */
  private async reapOrphanContainers(): Promise<void> {
    try {
      const { reaped, failed } = await createExecutionBackend(executionSettings(this.config.global)).reap({ graceSeconds: 2 });
      if (reaped.length) this.log.warn({ containers: reaped.map((c) => c.name) }, 'removed containers left by a previous process');
      for (const f of failed) this.log.error({ container: f.container.name, err: f.error }, 'could not remove an orphan container');
    } catch (err) {
      // Mail intake still works without a container runtime; tasks will fail with a clear error.
      this.log.error({ err: (err as Error).message }, 'cannot list containers at start-up; is the container runtime installed?');
    }
  }

  private startConfigWatcher(): void {
    if (this.options.watchConfig === false) return;
    this.watcher = watchConfigFile({
      file: this.config.sourcePath,
      onChange: () => {
        this.log.info({ file: this.config.sourcePath }, 'the configuration file changed; reloading');
        void this.reload();
      },
      onError: (err) => this.log.error({ err: err.message }, 'cannot watch the configuration file any more; reload with SIGHUP'),
    });
  }

  /**
   * Reads the configuration file again and applies what changed, scope by scope (see
   * src/config/config-diff.ts and docs/configuration.md, "Reloading"). An invalid file changes
   * nothing: its problems are logged and shown until a valid file is loaded. Never rejects.
   */
  reload(): Promise<ReloadResult> {
    const next = this.reloadChain
      .then(() => this.reloadOnce())
      .catch((err: unknown): ReloadResult => {
        // A bug, not a bad file: what was applied before the error stays applied.
        const message = err instanceof Error ? err.message : String(err);
        this.log.error({ err: err instanceof Error ? err.stack : message }, 'configuration reload failed');
        return { outcome: 'failed', applied: [], waiting: [], problems: [message] };
      });
    this.reloadChain = next.catch(() => undefined);
    return next;
  }

  private async reloadOnce(): Promise<ReloadResult> {
    const none = { applied: [], waiting: [], problems: [] };
    if (!this.life.is('running')) return { outcome: 'skipped', ...none };
    const file = this.config.sourcePath;
    let next: ServerConfig;
    try {
      // The .env file is read again too: a rotated secret in it takes effect with the reload.
      const loaded = loadForReload(file, this.options.loadEnv?.() ?? process.env, this.options.resilient === true, this.config);
      next = loaded.config;
      this.setFailedRepos(loaded.failed);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return this.refuseReload(err);
    }
    registerSecretValues(secretValuesOf(next));
    this.configNotice = null;
    const plan = planReload(this.config, next);
    const { applied, waiting } = describeDiff(plan.diff);
    if (isEmptyDiff(plan.diff)) {
      this.log.info({ file, waiting }, waiting.length ? 'configuration reloaded: nothing to apply now' : 'configuration reloaded: no change');
      return { outcome: 'unchanged', applied, waiting, problems: [] };
    }
    this.config = plan.effective;
    await applyReloadPlan(plan, this.reloadTargets(), this.log);
    this.log.info({ file, applied, waiting }, 'configuration reloaded');
    return { outcome: 'applied', applied, waiting, problems: [] };
  }

  private setFailedRepos(failed: readonly FailedRepo[]): void {
    const before = new Set(this.failedRepos.map((f) => f.id));
    this.failedRepos = failed;
    for (const f of failed) this.log.error({ repo: f.id, problems: problemLines(f) }, 'repository left out: its configuration is invalid; fix it and reload');
    const fixed = [...before].filter((id) => !failed.some((f) => f.id === id));
    if (fixed.length) this.log.info({ repos: fixed }, 'repositories no longer left out by the configuration');
  }

  private refuseReload(err: ConfigError): ReloadResult {
    const problems = err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
    const message = `configuration not applied: ${this.config.sourcePath} has ${problems.length} problem${problems.length === 1 ? '' : 's'}; the daemon keeps running the configuration it has`;
    this.configNotice = { message, problems };
    this.log.error({ file: this.config.sourcePath, problems }, message);
    return { outcome: 'refused', applied: [], waiting: [], problems };
  }

  private reloadTargets(): Parameters<typeof applyReloadPlan>[1] {
    return {
      supervisor: this.supervisor,
      dispatcher: this.dispatcher,
      scheduler: this.scheduler,
      sender: this.sender,
      webhooks: this.webhooks,
      runnerFaults: this.runnerFaults,
      rebindDashboard: () => this.rebindDashboard(),
      restartStorageProbe: () => {
        this.probe?.stop();
        this.startStorageProbe();
      },
    };
  }

  /** Idempotent. Each step runs even if an earlier one failed; failures are logged. */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.life.to('stopping');
    const steps: Array<[string, () => Promise<unknown> | void]> = [
      ['stop the scheduler', () => this.scheduler?.stop()],
      ['stop watching the configuration', () => this.watcher?.close()],
      ['wait for a reload in progress', () => this.reloadChain],
      ['stop conversation GC', () => this.sweeper?.stop()],
      ['stop listeners', () => this.supervisor?.stop()],
      ['stop storage probe', () => this.probe?.stop()],
      ['stop running tasks', () => this.dispatcher?.stop(this.config.global.shutdownTimeoutSeconds * 1000)],
      ['stop the pod gateway', () => this.gateway?.close()],
      ['flush replies', () => this.sender?.flush(FLUSH_ON_STOP_MS)],
      ['stop mail sender', () => this.sender?.stop()],
      // Pending deliveries stay in the store and go out after the restart.
      ['stop webhook sender', () => this.webhooks?.stop()],
      ['stop dashboard', () => this.dashboard?.close()],
      [
        'close database',
        () => {
          this.db?.close();
        },
      ],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        this.log.error({ step: name, err: (err as Error).message }, 'shutdown step failed');
      }
    }
    this.life.to('stopped');
    this.log.info('airut-ts stopped');
  }
}
