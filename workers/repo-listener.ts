/**
 * Entry point of one repository's listener thread. It owns that repo's IMAP connection and
 * nothing else: it never opens the database (the supervisor writes) and knows no other repo.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import { ImapListener } from '../src/listener/imap-listener.ts';
import { intakeMessages } from '../src/listener/intake.ts';
import { createLineLogger } from '../src/log/line-logger.ts';
import { registerSecretValues } from '../src/log/secret-values.ts';
import { loginSecretValues } from '../src/mail-account/credentials.ts';
import { Lifeline, connectApi, serveApi } from '../src/threads/rpc.ts';
import { IdleHeapTrim, fullCollector } from '../src/threads/heap-trim.ts';
import type { ListenerState } from '../src/protocol/listener-status.ts';
import {
  ACCEPT_TIMEOUT_MS,
  CONTROL_TIMEOUT_MS,
  type ListenerConfig,
  type RepoListenerApi,
  type RepoWorkerData,
  type SupervisorApi,
} from '../src/protocol/listener.ts';

const data = workerData as RepoWorkerData;
const config = data.listener;
/** What intake screens with; a reload replaces it (RepoListenerApi.update). */
let screening: ListenerConfig = config;
// The IMAP login (password or OAuth2 grant) is the only secret this thread holds (see listenerConfig()).
registerSecretValues(loginSecretValues(config.imap.login));
// Not pino: see src/log/line-logger.ts for why a listener isolate logs without it.
const log = createLineLogger({ repo: config.repoId, thread: 'listener' });

const supervisor = connectApi<SupervisorApi>(data.supervisorPort, {
  peer: 'supervisor',
  timeoutMs: CONTROL_TIMEOUT_MS,
  methodTimeoutsMs: { acceptBatch: ACCEPT_TIMEOUT_MS },
  lifeline: new Lifeline(),
});

/**
 * How long a listener waits quietly before it gives its spare heap back (src/threads/heap-trim.ts):
 * 30–60 s, drawn once per thread, so that 100 listeners that went idle together (start-up, one mail
 * each) do not all collect at once, and a collection never competes with a start-up or an intake.
 */
const TRIM_AFTER_QUIET_MS = 30_000 + Math.floor(Math.random() * 30_000);
const collectGarbage = fullCollector();
const heapTrim = new IdleHeapTrim(
  collectGarbage &&
    (() => {
      const before = getHeapStatistics().total_heap_size;
      const started = performance.now();
      collectGarbage();
      const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;
      log.debug({ ms: Math.round(performance.now() - started), heapMiB: mib(before), heapMiBAfter: mib(getHeapStatistics().total_heap_size) }, 'idle: heap trimmed');
    }),
  TRIM_AFTER_QUIET_MS,
);
/** States in which the listener waits (for mail, or to retry) rather than works. */
const WAITING: ReadonlySet<ListenerState> = new Set<ListenerState>(['idle', 'polling', 'backoff', 'error']);

const listener = new ImapListener({
  ...config.imap,
  maxMessageBytes: config.limits.maxMessageBytes,
  onMessages: (messages, recorded, stopped) => intakeMessages(messages, screening, (mails) => supervisor.acceptBatch(mails), log, recorded, stopped),
  onStatus: (status) => {
    if (WAITING.has(status.state)) heapTrim.quiet();
    else heapTrim.busy();
    supervisor.reportStatus(status).catch((err: Error) => log.warn({ err: err.message }, 'status report failed'));
  },
  log,
});

let stopping: Promise<void> | null = null;
const api: RepoListenerApi = {
  stop() {
    stopping ??= listener.stop().then(() => {
      // Let the last status report leave before the ports close.
      setTimeout(() => {
        data.supervisorPort.close();
        data.controlPort.close();
      }, 50);
    });
    return stopping;
  },
  update(next) {
    screening = { ...next, imap: config.imap, limits: { ...next.limits, maxMessageBytes: config.limits.maxMessageBytes } };
    log.info('screening rules updated by a configuration reload');
  },
};
serveApi(api, data.controlPort);

listener.run().catch((err: unknown) => {
  // The loop handles connection failures itself; reaching here is a bug. Crash the thread so
  // the supervisor restarts it with backoff.
  log.error({ err: err instanceof Error ? err.stack : String(err) }, 'listener loop crashed');
  process.exit(1);
});

parentPort?.on('close', () => void api.stop());
