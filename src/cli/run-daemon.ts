/**
 * Runs the daemon in this process: `npm start` (src/main.ts) and `airut start` both end here.
 * One function, so the stop-signal and reload handling hook in at one place.
 */
import { AirutError, ConfigError } from '../errors.ts';
import { loadConfigEnvironment, logEnvFile, type ConfigEnvironment } from '../config/env-file.ts';
import { isResilient, loadServerConfigPartial, type PartialConfig } from '../config/partial-load.ts';
import { secretValuesOf } from '../config/secret-values.ts';
import { Daemon } from '../daemon/daemon.ts';
import { installStopSignals } from '../daemon/stop-signals.ts';
import { logger, registerSecretValues, type Logger } from '../log/logger.ts';
import { assertNoOtherDaemon, writePidFile } from './pid-file.ts';

/** With `--resilient` or `execution.resilient_start`, repositories whose part of the file is invalid are left out (src/config/partial-load.ts). */
function loadConfigOrReport(argv: readonly string[], configPath: string): (PartialConfig & { fromFile: ConfigEnvironment }) | null {
  try {
    const fromFile = loadConfigEnvironment(argv, configPath, process.env);
    const loaded = loadServerConfigPartial(configPath, fromFile.env);
    // Strict unless asked: the whole file's error, exactly as without the option.
    if (loaded.error && !isResilient(argv, loaded.config)) throw loaded.error;
    return { ...loaded, fromFile };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return null;
    }
    throw err;
  }
}

/**
 * SIGTERM and SIGINT stop the daemon gracefully (exit 0): the copies one event delivers (Ctrl-C on
 * npm's process group) are one request, a later one forces the exit; SIGHUP reloads the
 * configuration (src/daemon/stop-signals.ts, Daemon.reload()).
 */
function installProcessHandlers(daemon: Daemon, log: Logger): void {
  installStopSignals({
    log,
    stop: () => daemon.stop(),
    exit: (code) => process.exit(code),
    // reload() never rejects: a refused file is reported on /health and in the log.
    onReload: async () => void (await daemon.reload()),
  });
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
 * Loads the configuration at `configPath` (with the `.env` beside it, or `--env-file` in `argv`; `--resilient` in `argv`
 * starts the valid repositories when others are invalid) and starts the daemon. Returns 1 when it cannot start,
 * -1 once it runs (the process then lives until a signal ends it).
 */
export async function runDaemon(configPath: string, argv: readonly string[] = []): Promise<number> {
  const loaded = loadConfigOrReport(argv, configPath);
  if (loaded === null) return 1;
  const { config } = loaded;
  registerSecretValues(secretValuesOf(config));
  const log = logger().child({ component: 'main' });
  logEnvFile(log, loaded.fromFile);

  // A reload reads the .env file again, so a secret rotated there takes effect with it.
  const daemon = new Daemon(config, {
    loadEnv: () => loadConfigEnvironment(argv, configPath, process.env).env,
    resilient: argv.includes('--resilient'),
    failedRepos: loaded.failed,
  });
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
