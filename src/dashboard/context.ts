/** What every route module of the dashboard shares. */
import type { MetricsBodyCache } from './metrics-cache.ts';
import type { DashboardOptions } from './options.ts';
import type { LiveHub } from './live.ts';
import type { DashboardSecurity } from './security.ts';
import type { MicroCache } from './cache.ts';
import type { LoginThrottle } from './login-throttle.ts';

export interface DashboardDeps {
  readonly o: DashboardOptions;
  readonly security: DashboardSecurity;
  /** Failed token attempts per client address. */
  readonly throttle: LoginThrottle;
  readonly hub: LiveHub;
  /** When this dashboard was created: the health grace period of repos that have not reported. */
  readonly since: number;
  /** Open live streams; `close()` ends them so the server can stop. */
  readonly streams: Set<() => void>;
  readonly now: () => number;
  /** Bodies of the task list (page and JSON), reused for a fraction of a second. */
  readonly listCache: MicroCache;
  /** The last /metrics text, reused until the database changes. */
  readonly metricsCache: MetricsBodyCache;
}

/** Repos in the order the configuration lists them. */
export function configuredRepoIds(d: DashboardDeps): string[] {
  return Object.keys(d.o.config.repos);
}
