/**
 * What the daemon hands the dashboard, and what it gets back. Types only, importing nothing of the
 * dashboard, so every dashboard module can name them without importing the server (which imports
 * every route module: naming them there made the dashboard's modules import each other in a circle).
 */
import type { ServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import type { FeedSource } from '../feed/live-feed.ts';
import type { IncomingMail } from '../protocol/incoming-mail.ts';

export interface DashboardActions {
  /** Stops a running task (container stopped, status → cancelled, user gets a reply) or removes a queued one. */
  stopTask(taskId: number): Promise<{ readonly ok: boolean; readonly status: string; readonly message: string }>;
  /**
   * Records a task submitted over the API (its synthetic mail, src/dashboard/submit-mail.ts) the way
   * mail is recorded: rate limits and spending caps apply; a queued task is handed to the dispatcher.
   */
  submitTask(mail: IncomingMail): Promise<SubmitOutcome>;
}
export interface SubmitOutcome {
  readonly taskId: number;
  /** null: queued; else why a rate limit or spending cap refused it (the task is recorded as rejected). */
  readonly refusal: string | null;
}
export interface DashboardOptions {
  readonly config: ServerConfig;       // repos (ids, fromAddress), dashboard settings
  readonly db: Db;                     // the main thread's connection (better-sqlite3, WAL); read-only use
  readonly actions: DashboardActions;
  /** What changed, live (src/feed/live-feed.ts); the dashboard only subscribes. */
  readonly feed: FeedSource;
  readonly log: Logger;
  /** Extra health inputs beyond listener state, e.g. a database/disk error to surface. */
  readonly healthProblems?: () => ReadonlyArray<{ readonly component: string; readonly message: string }>;
  /**
   * Set while the configuration file on disk could not be applied (a reload refused it): shown on
   * /health and the Repositories page until a valid file is loaded. The daemon keeps running the
   * configuration it has, so this does not make /health answer 503 (docs/configuration.md).
   */
  readonly configNotice?: () => ConfigNotice | null;
  /**
   * Repositories a resilient start (`--resilient`) left out because their part of the
   * configuration is invalid, each with why; a card each on the Repositories page.
   */
  readonly failedRepos?: () => ReadonlyArray<FailedRepoView>;
  /** The clock of durations, session expiry and the login throttle; Date.now unless a test moves it. */
  readonly now?: () => number;
}
export interface FailedRepoView {
  readonly id: string;
  /** Each problem as `path: message`. */
  readonly problems: readonly string[];
}
export interface ConfigNotice {
  /** "configuration not applied: …", naming the file. */
  readonly message: string;
  /** Each problem as `path: message`. */
  readonly problems: readonly string[];
}
export interface RunningDashboard { readonly url: string; close(): Promise<void> }
