/**
 * The running daemon: builds its parts, starts them in order and stops them in reverse. One
 * instance per process. What the parts say to each other is wired here and handled elsewhere: the
 * live feed (src/feed/), the routing of runner messages (src/daemon/runner-messages.ts), the
 * dashboard's operator actions (src/daemon/operator-actions.ts), storage faults (src/health/).
 *
 * Start: database (migrations) → remove containers a killed process left → storage probe → mail sender →
 * dispatcher (requeues tasks a previous process left running) → dashboard → listeners → conversation GC
 * (sweeps now, then hourly). Stop: conversation GC → listeners (no new mail), storage probe → dispatcher (running tasks
 * get `shutdown_timeout`, then are interrupted) → mail sender (flush what is due) → dashboard → database.
 * A stop that arrives while the daemon starts ends the start-up after the step in progress.
 */
import type { ServerConfig } from '../config/types.ts';
import { logger } from '../log/logger.ts';
import { openDatabase, type Db } from '../store/database.ts';
import { Supervisor } from '../supervisor/supervisor.ts';
import { Dispatcher } from '../dispatcher/dispatcher.ts';
import { OutgoingMailSender } from '../reply/outbox-sender.ts';
import { prepareSandbox } from '../sandbox/prepare-sandbox.ts';
import type { SandboxGlobals } from '../sandbox/task-network.ts';
import { createExecutionBackend, executionSettings } from '../sandbox/backend-factory.ts';
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

const FLUSH_ON_STOP_MS = 5_000;
/** How often the storage directories are checked for writes (see health/storage-probe.ts). */
const STORAGE_PROBE_MS = 10_000;

export class Daemon {
  private readonly life = new Lifecycle('daemon');
  private db: Db | null = null;
  private supervisor: Supervisor | null = null;
  private dispatcher: Dispatcher | null = null;
  private sender: OutgoingMailSender | null = null;
  private dashboard: RunningDashboard | null = null;
  private sweeper: ConversationSweeper | null = null;
  private probe: { stop(): void } | null = null;
  private readonly storage: StorageHealth;
  private readonly runnerFaults: RunnerFaults;
  /** Live changes for the dashboard. */
  private readonly feed = new LiveFeed();
  private stopPromise: Promise<void> | null = null;
  private readonly log = logger().child({ component: 'daemon' });

  constructor(private readonly config: ServerConfig) {
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
      await this.reapOrphanContainers();
      if (this.stopRequested()) return;
      const sandbox = await this.prepareNetworkSandbox();
      if (this.stopRequested()) return;
      this.startStorageProbe();
      const sender = this.startSender(db);
      const dispatcher = this.startDispatcher(db, sender, sandbox);
      await this.startDashboard(db, dispatcher, sender);
      if (this.stopRequested()) return;
      await this.startListeners(db, dispatcher, sender);
      if (this.stopRequested()) return;
      this.startSweeper(db);
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
    this.dashboard = await startDashboard({
      config: this.config,
      db,
      actions: operatorActions({
        db,
        repos: this.config.repos,
        cancelRunning: (taskId, reason) => dispatcher.cancelRunning(taskId, reason),
        feed: this.feed,
        mailQueued: () => sender.kick(),
      }),
      feed: this.feed,
      log: logger().child({ component: 'dashboard' }),
      healthProblems: () => this.storage.problems(),
    });
    this.log.info({ url: this.dashboard.url }, 'dashboard listening');
  }

  private async startListeners(db: Db, dispatcher: Dispatcher, sender: OutgoingMailSender): Promise<void> {
    this.supervisor = new Supervisor(this.config, db, {
      onTaskRecorded: (taskId, queued, replyQueued) => {
        this.feed.taskChanged(taskId);
        if (queued) dispatcher.kick();
        if (replyQueued) sender.kick();
      },
      storage: this.storage,
    });
    await this.supervisor.start();
  }

  /** After the dispatcher requeued interrupted work, so the sweep sees it as pending. */
  private startSweeper(db: Db): void {
    this.sweeper = new ConversationSweeper({
      db,
      repos: this.config.repos,
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

  /** Idempotent. Each step runs even if an earlier one failed; failures are logged. */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.life.to('stopping');
    const steps: Array<[string, () => Promise<unknown> | void]> = [
      ['stop conversation GC', () => this.sweeper?.stop()],
      ['stop listeners', () => this.supervisor?.stop()],
      ['stop storage probe', () => this.probe?.stop()],
      ['stop running tasks', () => this.dispatcher?.stop(this.config.global.shutdownTimeoutSeconds * 1000)],
      ['flush replies', () => this.sender?.flush(FLUSH_ON_STOP_MS)],
      ['stop mail sender', () => this.sender?.stop()],
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
