/**
 * Turns the process's signals into one stop request, a forced exit, or a reload.
 *
 * One event often delivers a signal more than once: Ctrl-C on `npm start` signals the whole process
 * group, so the daemon gets its own SIGINT and the copy npm forwards; a process manager that
 * signals a whole group (systemd's `KillMode=control-group`, supervisord's `stopasgroup`) does the
 * same with SIGTERM. Copies that arrive within `sameEventWindowMs` of the first are that same event
 * and change nothing. A stop signal that arrives later is a deliberate second request (the first was
 * acknowledged in the log, "send it again to force"), and exits at once with status 1.
 *
 * SIGHUP never stops the daemon: it asks for a reload (`onReload`), or is logged and ignored when
 * there is none.
 */
import type { Logger } from '../log/logger.ts';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export const RELOAD_SIGNAL = 'SIGHUP';
/** Copies of one group signal arrive within milliseconds; a person pressing Ctrl-C again takes longer. */
export const DEFAULT_SAME_EVENT_WINDOW_MS = 1500;

/** Where signals come from: `process` in the daemon, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface StopSignalOptions {
  readonly log: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** The graceful stop (drain running tasks, up to shutdown_timeout). Called once. */
  readonly stop: () => Promise<void>;
  /** Ends the process: 0 after a graceful stop, 1 when forced or when the stop failed. */
  readonly exit: (code: number) => void;
  /** Called for SIGHUP, unless a stop was requested. Errors it throws or rejects with are logged. */
  readonly onReload?: () => void | Promise<void>;
  readonly source?: SignalSource;
  /** A monotonic clock in milliseconds. */
  readonly now?: () => number;
  readonly sameEventWindowMs?: number;
}

export interface StopSignals {
  /** True once a stop was requested (by a signal or by `requestStop`). */
  readonly stopping: boolean;
  /** What a stop signal does, callable directly (an `airut` command, a test). */
  requestStop(signal: NodeJS.Signals): void;
  /** Removes the handlers (tests; a CLI that runs the daemon and then something else). */
  uninstall(): void;
}

export function installStopSignals(opts: StopSignalOptions): StopSignals {
  const source = opts.source ?? process;
  const now = opts.now ?? (() => performance.now());
  const windowMs = opts.sameEventWindowMs ?? DEFAULT_SAME_EVENT_WINDOW_MS;
  const { log } = opts;
  let firstAt: number | undefined;

  const requestStop = (signal: NodeJS.Signals): void => {
    if (firstAt === undefined) {
      firstAt = now();
      log.info({ signal }, `stop requested (signal ${signal}): draining; send it again to force`);
      opts.stop().then(
        () => opts.exit(0),
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
          opts.exit(1);
        },
      );
      return;
    }
    if (now() - firstAt < windowMs) {
      log.debug({ signal }, 'another copy of the stop signal (same event); still draining');
      return;
    }
    log.warn({ signal }, `second stop request (signal ${signal}): exiting now without draining`);
    opts.exit(1);
  };

  const onReloadSignal = (signal: NodeJS.Signals): void => {
    if (firstAt !== undefined) {
      log.info({ signal }, `${signal}: stopping; reload ignored`);
      return;
    }
    if (!opts.onReload) {
      log.warn({ signal }, `${signal}: reload is not available; ignoring`);
      return;
    }
    log.info({ signal }, `${signal}: reloading the configuration`);
    // A reload that throws must not end the daemon: it keeps running what it runs.
    Promise.resolve()
      .then(opts.onReload)
      .catch((err: unknown) => log.error({ signal, err: err instanceof Error ? err.message : String(err) }, 'reload failed'));
  };

  for (const s of STOP_SIGNALS) source.on(s, requestStop);
  source.on(RELOAD_SIGNAL, onReloadSignal);

  return {
    get stopping() {
      return firstAt !== undefined;
    },
    requestStop,
    uninstall() {
      for (const s of STOP_SIGNALS) source.off(s, requestStop);
      source.off(RELOAD_SIGNAL, onReloadSignal);
    },
  };
}
