/**
 * The contract between the supervisor (main thread) and one repo listener thread.
 * Two MessageChannels: the listener calls `SupervisorApi` on one, the supervisor calls
 * `RepoListenerApi` on the other. Everything passed is structured-cloneable.
 */
import type { MessagePort } from 'node:worker_threads';
import type { RepoServerConfig } from '../config/types.ts';
import type { AcceptOutcome, IncomingMail } from '../store/accept.ts';
import type { ListenerStatus } from '../store/repo-status.ts';

/** Served by the supervisor for one repo's listener. */
export interface SupervisorApi {
  /**
   * Records the mails durably, in order (raw + task row each, and a reply when a limit refused
   * one), and answers only after the commit, with one outcome per mail. The listener sends the
   * mail that waited alone, and a backlog in batches (one round trip and one commit per batch).
   */
  acceptBatch(mails: readonly IncomingMail[]): Promise<AcceptOutcome[]>;
  reportStatus(status: ListenerStatus): void;
}

/** Served by a repo listener thread. */
export interface RepoListenerApi {
  /** Logs out and ends the listener loop; the thread exits by itself afterwards. */
  stop(): Promise<void>;
  /** Heartbeat: a thread that does not answer is restarted. */
  ping(): 'pong';
}

export interface RepoWorkerData {
  readonly repo: RepoServerConfig;
  /** The listener calls the supervisor through this port. */
  readonly supervisorPort: MessagePort;
  /** The supervisor calls the listener through this port. */
  readonly controlPort: MessagePort;
}

/** Deadlines for calls across the boundary. acceptBatch() includes an fsync'd SQLite commit. */
export const ACCEPT_TIMEOUT_MS = 30_000;
export const CONTROL_TIMEOUT_MS = 10_000;
