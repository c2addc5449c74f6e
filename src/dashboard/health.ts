/**
 * Whether the daemon is healthy, from the listeners' last reported states. Pure: the caller reads
 * repo_status and the clock.
 *
 * A listener is healthy while it is connected (idle, polling, processing). Connecting or starting
 * is normal for a short while after a (re)start, so it counts as healthy for STARTUP_GRACE_MS after
 * the state was written; a listener stuck there longer is not. Backoff, error and stopped are
 * unhealthy; `error` (a login that cannot succeed until someone fixes it, e.g. the OAuth2 provider
 * refused the grant) names what to fix in its problem.
 */
import type { RepoStatusRow } from '../store/repo-status.ts';
import type { ListenerState } from '../protocol/listener-status.ts';

export const STARTUP_GRACE_MS = 60_000;

/** `unknown`: the repo is configured but its listener has not reported yet. */
export type RepoHealthState = ListenerState | 'unknown';

export interface RepoHealth {
  readonly state: RepoHealthState;
  readonly healthy: boolean;
  readonly detail: string | null;
  readonly lastError: string | null;
  readonly nextRetryAt: number | null;
  readonly updatedAt: number | null;
}

export interface HealthProblem {
  readonly component: string;
  readonly message: string;
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly repos: Readonly<Record<string, RepoHealth>>;
  readonly problems: readonly HealthProblem[];
}

export function isListenerHealthy(state: RepoHealthState, updatedAt: number, now: number): boolean {
  switch (state) {
    case 'idle':
    case 'polling':
    case 'processing':
      return true;
    case 'connecting':
    case 'starting':
    case 'unknown':
      return now - updatedAt <= STARTUP_GRACE_MS;
    case 'backoff':
    case 'error':
    case 'stopped':
      return false;
    default:
      return false;
  }
}

export interface HealthInput {
  /** The configured repos; only these count (a removed repo's old status row is ignored). */
  readonly repoIds: readonly string[];
  readonly statuses: readonly RepoStatusRow[];
  readonly problems: readonly HealthProblem[];
  readonly now: number;
  /** When the dashboard started: the grace period of a repo that has not reported yet. */
  readonly since: number;
}

export function assessHealth(input: HealthInput): HealthReport {
  const byRepo = new Map(input.statuses.map((s) => [s.repoId, s]));
  const repos: Record<string, RepoHealth> = {};
  const problems: HealthProblem[] = [...input.problems];
  for (const repoId of input.repoIds) {
    const s = byRepo.get(repoId);
    const state: RepoHealthState = s?.state ?? 'unknown';
    const healthy = isListenerHealthy(state, s?.updatedAt ?? input.since, input.now);
    repos[repoId] = {
      state,
      healthy,
      detail: s?.detail ?? null,
      lastError: s?.lastError ?? null,
      nextRetryAt: s?.nextRetryAt ?? null,
      updatedAt: s?.updatedAt ?? null,
    };
    if (!healthy) {
      problems.push({
        component: `repo:${repoId}`,
        message: s ? listenerProblem(state, s.lastError) : 'listener has not reported a state',
      });
    }
  }
  return { status: problems.length === 0 ? 'ok' : 'degraded', repos, problems };
}

function listenerProblem(state: RepoHealthState, lastError: string | null): string {
  if (state === 'error') return `listener cannot log in until this is fixed: ${lastError ?? 'the server refused the login'}`;
  return `listener is ${state}${lastError ? `: ${lastError}` : ''}`;
}
