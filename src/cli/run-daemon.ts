/**
 * Runs the daemon in this process: `npm start` (src/main.ts) and `airut start` both end here.
 * One function, so the stop-signal and reload handling hook in at one place.
 */
import { AirutError, ConfigError } from '../errors.ts';
import { loadServerConfig } from '../config/load.ts';
import type { ServerConfig } from '../config/types.ts';
import { secretValuesOf } from '../config/secret-values.ts';
import { Daemon } from '../daemon/daemon.ts';
import { logger, registerSecretValues, type Logger } from '../log/logger.ts';
import { assertNoOtherDaemon, writePidFile } from './pid-file.ts';

function loadConfigOrReport(configPath: string): ServerConfig | null {
  try {
    return loadServerConfig(configPath, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return null;
    }
    throw err;
  }
}

/** SIGTERM and SIGINT stop the daemon gracefully (exit 0); a second signal forces the exit. */
function installProcessHandlers(daemon: Daemon, log: Logger): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', (err) => {
    // Unknown state: the process manager restarts us; durable state makes that safe.
    log.fatal({ err: err.stack ?? err.message }, 'uncaught exception; exiting');
    process.exit(70);
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason.stack : String(reason) }, 'unhandled promise rejection');
  });
}

/**
 * Loads the configuration at `configPath` and starts the daemon. Returns 1 when it cannot start,
 * -1 once it runs (the process then lives until a signal ends it).
 */
export async function runDaemon(configPath: string): Promise<number> {
  const config = loadConfigOrReport(configPath);
  if (config === null) return 1;
  registerSecretValues(secretValuesOf(config));
  const log = logger().child({ component: 'main' });

  const daemon = new Daemon(config);
  installProcessHandlers(daemon, log);
  try {
    assertNoOtherDaemon(config.global.databasePath);
    await daemon.start();
    // After start: the database directory exists then, with its modes set by the store.
    const pidFile = writePidFile(config.global.databasePath);
    log.info({ pidFile, pid: process.pid }, 'pid file written');
  } catch (err) {
    const e = err as Error & { code?: string };
    log.fatal({ code: e.code, err: e.message }, 'start-up failed');
    process.stderr.write(`airut-ts could not start: ${e.message}\n`);
    if (!(err instanceof AirutError && err.code === 'DAEMON_ALREADY_RUNNING')) await daemon.stop();
    return 1;
  }
  return -1; // keep running until a signal
}
