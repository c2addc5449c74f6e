/**
 * The running daemon: its parts, started in order and stopped in reverse. One instance per process.
 */
import type { ServerConfig } from './config/types.ts';
import { logger } from './log/logger.ts';
import { openDatabase, type Db } from './store/database.ts';
import { Supervisor } from './supervisor/supervisor.ts';

export type DaemonState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export class Daemon {
  state: DaemonState = 'created';
  private db: Db | null = null;
  private supervisor: Supervisor | null = null;
  private stopPromise: Promise<void> | null = null;
  private readonly log = logger().child({ component: 'daemon' });

  constructor(private readonly config: ServerConfig) {}

  start(): void {
    this.state = 'starting';
    try {
      this.db = openDatabase(this.config.global.databasePath, { migrate: true });
      this.supervisor = new Supervisor(this.config, this.db);
      this.supervisor.start();
      this.state = 'running';
      this.log.info(
        { repos: Object.keys(this.config.repos), database: this.config.global.databasePath, pid: process.pid },
        'airut-ts is running',
      );
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  /** Idempotent. Each step runs even if an earlier one failed; failures are logged. */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    this.state = 'stopping';
    const steps: Array<[string, () => Promise<void> | void]> = [
      ['stop listeners', () => this.supervisor?.stop()],
      ['close database', () => {
        this.db?.close();
      }],
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
