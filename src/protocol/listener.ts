/**
 * The contract between the supervisor (main thread) and one repo listener thread: the slice of
 * configuration the thread starts with (`listenerConfig`), and two MessageChannels: the listener
 * calls `SupervisorApi` on one, the supervisor calls `RepoListenerApi` on the other. Everything
 * passed is structured-cloneable.
 */
import type { MessagePort } from 'node:worker_threads';
import type { RepoServerConfig } from '../config/types.ts';
import type { ScreeningPolicy } from '../email/screen.ts';
import type { MessageSizeLimits } from '../limits/message-limits.ts';
import type { ImapListenerOptions } from '../listener/imap-listener.ts';
import type { AcceptOutcome, IncomingMail } from './incoming-mail.ts';
import type { ListenerStatus } from './listener-status.ts';

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
  /**
   * A configuration reload changed the rules mail must pass (senders, authserv-id, attachment
   * limits): the next mail is screened with these. The connection settings (`imap`, and
   * `limits.maxMessageBytes`, which the IMAP loop reads) are not taken: a change there restarts
   * the thread instead (src/config/config-diff.ts).
   */
  update(config: ListenerConfig): void;
}

/** How a listener reaches and watches its inbox (the IMAP login is the one secret it holds). */
export type ListenerImapSettings = Pick<
  ImapListenerOptions,
  'host' | 'port' | 'security' | 'username' | 'configPath' | 'login' | 'tls' | 'useIdle' | 'pollIntervalMs' | 'idleRefreshIntervalMs' | 'idleReconnectIntervalMs'
>;

/**
 * The slice of a repository's configuration its listener thread receives: its inbox and the rules
 * mail must pass before it is recorded. Not the repository's secrets, masked secrets, signing
 * credentials, SMTP account or storage: a thread that parses hostile mail holds nothing it does
 * not read (a test checks that no secret value crosses).
 */
export interface ListenerConfig {
  readonly repoId: string;
  readonly imap: ListenerImapSettings;
  readonly screening: ScreeningPolicy;
  readonly limits: MessageSizeLimits;
}

/** The listener's slice of `repo`, field by field (never a spread: a new config field stays out until named here). */
export function listenerConfig(repo: RepoServerConfig): ListenerConfig {
  const { email, imap, limits } = repo;
  return {
    repoId: repo.repoId,
    imap: {
      host: email.imapServer,
      port: email.imapPort,
      security: email.imapSecurity,
      username: email.username,
      configPath: `repos.${repo.repoId}.email`,
      login: email.login,
      tls: email.tls,
      useIdle: imap.useIdle,
      pollIntervalMs: imap.pollIntervalSeconds * 1000,
      idleRefreshIntervalMs: imap.idleRefreshIntervalSeconds * 1000,
      idleReconnectIntervalMs: imap.idleReconnectIntervalSeconds * 1000,
    },
    screening: {
      fromAddress: email.fromAddress,
      trustedAuthservId: repo.trustedAuthservId,
      microsoftInternalFallback: repo.microsoftInternalFallback,
      authorizedSenders: repo.authorizedSenders,
    },
    limits: {
      maxMessageBytes: limits.maxMessageBytes,
      maxAttachmentBytes: limits.maxAttachmentBytes,
      maxAttachments: limits.maxAttachments,
    },
  };
}

export interface RepoWorkerData {
  readonly listener: ListenerConfig;
  /** The listener calls the supervisor through this port. */
  readonly supervisorPort: MessagePort;
  /** The supervisor calls the listener through this port. */
  readonly controlPort: MessagePort;
}

/** Deadlines for calls across the boundary. acceptBatch() includes an fsync'd SQLite commit. */
export const ACCEPT_TIMEOUT_MS = 30_000;
export const CONTROL_TIMEOUT_MS = 10_000;
