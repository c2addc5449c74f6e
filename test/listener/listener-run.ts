/**
 * A listener started for a test against a real server: short backoffs, every status and every
 * fetched subject recorded, its log lines captured. Shared by the listener tests that differ only
 * in how the listener reaches its server (TLS, OAuth2).
 */
import { ImapListener, type ImapListenerOptions } from '../../src/listener/imap-listener.ts';
import type { ListenerStatus } from '../../src/protocol/listener-status.ts';
import { captureLog } from '../harness/capture-log.ts';

export interface ListenerRun {
  readonly listener: ImapListener;
  readonly statuses: ListenerStatus[];
  /** Subjects of the fetched mails, in order. */
  readonly subjects: string[];
  /** The raw (unredacted by the test) JSON log lines. */
  readonly lines: string[];
  stop(): Promise<void>;
}

export type ListenerRunOptions = Pick<ImapListenerOptions, 'host' | 'port' | 'security' | 'username' | 'login' | 'tls'> &
  Partial<Omit<ImapListenerOptions, 'onMessages' | 'onStatus' | 'log'>>;

const QUICK = { initialMs: 100, maxMs: 300, stableAfterMs: 60_000 };

export function startListenerRun(options: ListenerRunOptions): ListenerRun {
  const { log, lines } = captureLog();
  const statuses: ListenerStatus[] = [];
  const subjects: string[] = [];
  const listener = new ImapListener({
    useIdle: true,
    pollIntervalMs: 60_000,
    idleRefreshIntervalMs: 60_000,
    idleReconnectIntervalMs: 600_000,
    backoff: QUICK,
    errorBackoff: QUICK,
    onMessages: async (messages, recorded) => {
      for (const m of messages) {
        subjects.push(/^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1]?.trim() ?? '');
        recorded(m.uid);
      }
    },
    onStatus: (status) => statuses.push(status),
    log,
    ...options,
  });
  const running = listener.run();
  return {
    listener,
    statuses,
    subjects,
    lines,
    stop: async () => {
      await listener.stop();
      await running;
    },
  };
}
