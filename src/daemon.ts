/**
 * The running daemon: its parts, started in order and stopped in reverse. One instance per process.
 *
 * Start: database (migrations) → remove containers a killed process left → storage probe → mail sender →
 * dispatcher (requeues tasks a previous process left running) → dashboard → listeners → conversation GC
 * (sweeps now, then hourly). Stop: conversation GC → listeners (no new mail), storage probe → dispatcher (running tasks
 * get `shutdown_timeout`, then are interrupted) → mail sender (flush what is due) → dashboard → database.
 */
import type { ServerConfig } from './config/types.ts';
import { logger } from './log/logger.ts';
import { openDatabase, type Db } from './store/database.ts';
import { Supervisor } from './supervisor/supervisor.ts';
import { Dispatcher } from './dispatcher/dispatcher.ts';
import { OutgoingMailSender } from './reply/outbox-sender.ts';
import { prepareSandbox } from './sandbox/prepare-sandbox.ts';
import { createExecutionBackend, executionSettings } from './sandbox/backend-factory.ts';
import { EventEmitter } from 'node:events';
import { startDashboard, type DashboardActions, type RunningDashboard } from './dashboard/server.ts';
import { finishTaskWithMail } from './runner/notify-sender.ts';
import { getTask } from './store/task-queries.ts';
import { ConversationSweeper } from './gc/conversation-sweeper.ts';
import { StorageHealth, type StorageFaultInfo } from './health/storage-faults.ts';
import { probeStorage, probeTargets } from './health/storage-probe.ts';
import path from 'node:path';

export type DaemonState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

const FLUSH_ON_STOP_MS = 5_000;
/** How often the storage directories are checked for writes (see health/storage-probe.ts). */
const STORAGE_PROBE_MS = 10_000;

export class Daemon {
  state: DaemonState = 'created';
  private db: Db | null = null;
  private supervisor: Supervisor | null = null;
  private dispatcher: Dispatcher | null = null;
  private sender: OutgoingMailSender | null = null;
  private dashboard: RunningDashboard | null = null;
  private sweeper: ConversationSweeper | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private readonly storage: StorageHealth;
  /**
   * Live changes for the dashboard: 'task' (a task row changed), 'task-event' (an agent event was
   * stored), 'network' (network log rows were stored for a conversation).
   */
  private readonly feed = new EventEmitter();
  private stopPromise: Promise<void> | null = null;
  private readonly log = logger().child({ component: 'daemon' });

  constructor(private readonly config: ServerConfig) {
    this.storage = new StorageHealth({ databasePath: config.global.databasePath, log: logger().child({ component: 'storage' }) });
  }

  async start(): Promise<void> {
    this.state = 'starting';
    try {
      const db = openDatabase(this.config.global.databasePath, {
        migrate: true,
        log: logger().child({ component: 'store' }),
        ownPaths: Object.values(this.config.repos).map((r) => r.storageDir),
      });
      this.db = db;
      await this.reapOrphanContainers();
      // After the reaping: a sidecar that was still running would hold sockets in these directories.
      const sandbox = await prepareSandbox(this.config);
      if (sandbox.leftovers) this.log.warn({ count: sandbox.leftovers }, 'removed network sandbox directories left by a previous process');
      this.startStorageProbe();
      const sender = new OutgoingMailSender(db, this.config.repos, logger().child({ component: 'mail-sender' }), { storage: this.storage });
      this.sender = sender;
      sender.start();
      this.feed.setMaxListeners(0); // one listener per open dashboard stream
      const dispatcher = new Dispatcher({
        config: this.config,
        db,
        log: logger().child({ component: 'dispatcher' }),
        onMailQueued: () => sender.kick(),
        onTaskStarted: (taskId) => this.feed.emit('task', taskId),
        onRunnerMessage: (m) => {
          if (m.type === 'event') this.feed.emit('task-event', { taskId: m.taskId, eventId: m.eventId });
          else if (m.type === 'network') this.feed.emit('network', { repoId: m.repoId, conversationId: m.conversationId, taskId: m.taskId, lastId: m.lastId });
          else if (m.type === 'task-changed' || m.type === 'stage') this.feed.emit('task', m.taskId);
          else if (m.type === 'storage-fault') this.recordRunnerFault(m.repoId, m.fault);
        },
        onTaskFinished: (taskId, status) => {
          this.feed.emit('task', taskId);
          this.noteTaskOutcome(db, taskId, status);
        },
        storage: this.storage,
        sandbox: sandbox.globals,
      });
      this.dispatcher = dispatcher;
      dispatcher.start();
      if (this.config.global.dashboard.enabled) {
        this.dashboard = await startDashboard({
          config: this.config,
          db,
          actions: this.dashboardActions(db, dispatcher, sender),
          feed: this.feed,
          log: logger().child({ component: 'dashboard' }),
          healthProblems: () => this.storage.problems(),
        });
        this.log.info({ url: this.dashboard.url }, 'dashboard listening');
      }
      this.supervisor = new Supervisor(this.config, db, {
        onTaskRecorded: (taskId, queued, replyQueued) => {
          this.feed.emit('task', taskId);
          if (queued) dispatcher.kick();
          if (replyQueued) sender.kick();
        },
        storage: this.storage,
      });
      await this.supervisor.start();
      // After the dispatcher requeued interrupted work, so the sweep sees it as pending.
      this.sweeper = new ConversationSweeper({
        db,
        repos: this.config.repos,
        maxAgeDays: this.config.global.conversationMaxAgeDays,
        images: createExecutionBackend(executionSettings(this.config.global)),
        log: logger().child({ component: 'gc' }),
      });
      this.sweeper.start();
      this.state = 'running';
      this.log.info(
        {
          repos: Object.keys(this.config.repos),
          database: this.config.global.databasePath,
          maxConcurrent: this.config.global.maxConcurrent,
          pid: process.pid,
        },
        'airut-ts is running',
      );
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  /** The dashboard's Stop: a running task's container is stopped; a queued task leaves the queue. */
  private dashboardActions(db: Db, dispatcher: Dispatcher, sender: OutgoingMailSender): DashboardActions {
    return {
      stopTask: async (taskId) => {
        const task = getTask(db, taskId);
        if (!task) return { ok: false, status: 'unknown', message: `task ${taskId} does not exist` };
        if (task.status === 'running') {
          const asked = dispatcher.cancelRunning(taskId, 'user');
          return asked
            ? { ok: true, status: 'running', message: 'stopping: the container is being stopped and the sender will be told' }
            : { ok: false, status: task.status, message: 'the task is not running in this process' };
        }
        if (task.status === 'queued') {
          const repo = this.config.repos[task.repoId];
          if (!repo) return { ok: false, status: task.status, message: 'the task belongs to a repository that is no longer configured' };
          const done = await finishTaskWithMail(
            db,
            repo,
            taskId,
            { kind: 'notice', markdown: 'Your task was **removed from the queue** by an operator before it started. Reply to this mail to ask again.' },
            { status: 'cancelled', error: 'removed from the queue by an operator' },
            ['queued'],
          );
          this.feed.emit('task', taskId);
          sender.kick();
          return done
            ? { ok: true, status: 'cancelled', message: 'removed from the queue; the sender was told' }
            : { ok: false, status: getTask(db, taskId)?.status ?? 'unknown', message: 'the task left the queue meanwhile' };
        }
        return { ok: false, status: task.status, message: `the task is ${task.status}; only queued or running tasks can be stopped` };
      },
    };
  }

  /** Disk and database health, checked now and then every STORAGE_PROBE_MS (never overlapping). */
  private startStorageProbe(): void {
    const targets = probeTargets(this.config);
    const run = async (): Promise<void> => {
      try {
        await probeStorage(targets, this.storage, this.config.global.databasePath);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'storage probe failed');
      }
      if (this.state === 'starting' || this.state === 'running') {
        this.probeTimer = setTimeout(() => void run(), STORAGE_PROBE_MS);
        this.probeTimer.unref();
      }
    };
    void run();
  }

  /** A runner thread hit a disk or database error: listed on /health under the right area. */
  private recordRunnerFault(repoId: string, fault: StorageFaultInfo): void {
    const repo = this.config.repos[repoId];
    const underStorage = repo !== undefined && (fault.path === repo.storageDir || fault.path.startsWith(repo.storageDir + path.sep));
    const area = fault.kind === 'database' ? 'database' : underStorage ? `storage:${repoId}` : 'disk';
    this.storage.record(area, 'runner', fault);
  }

  /** A task that got through its run has written its storage and the database: runner faults there are over. */
  private noteTaskOutcome(db: Db, taskId: number, status: string): void {
    if (status !== 'completed' && status !== 'timeout' && status !== 'cancelled') return;
    const repoId = getTask(db, taskId)?.repoId;
    if (repoId) this.storage.clear(`storage:${repoId}`, ['runner']);
    this.storage.clear('database', ['runner']);
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
    this.state = 'stopping';
    const steps: Array<[string, () => Promise<unknown> | void]> = [
      ['stop conversation GC', () => this.sweeper?.stop()],
      ['stop listeners', () => this.supervisor?.stop()],
      [
        'stop storage probe',
        () => {
          if (this.probeTimer) clearTimeout(this.probeTimer);
        },
      ],
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
    this.state = 'stopped';
    this.log.info('airut-ts stopped');
  }
}
