/**
 * What a listener thread reports of itself (RepoListener → supervisor → repo_status table →
 * dashboard and /health). Its own module: the listener, the store and the dashboard read it
 * without depending on each other.
 */
import type { LifecycleState } from '../lifecycle/lifecycle.ts';

/**
 * What a running listener's connection is doing: activity within the `running` lifecycle state.
 * `backoff` waits to reconnect after something that may pass by itself (a network blip, a server
 * restart); `error` waits after a login that cannot succeed until someone fixes something (the
 * OAuth2 provider refused the grant, the server refused the password or a fresh token). Both
 * retry; `lastError` says why, `nextRetryAt` when.
 */
export type ListenerActivity = 'connecting' | 'idle' | 'polling' | 'processing' | 'backoff' | 'error';
/**
 * What the dashboard shows for a listener: its lifecycle words while it starts or after it stopped
 * (the same words as every other part's, src/lifecycle/lifecycle.ts), its activity in between.
 */
export type ListenerState = Extract<LifecycleState, 'starting' | 'stopped'> | ListenerActivity;

export interface ListenerStatus {
  readonly state: ListenerState;
  /** Short human text: "IDLE on INBOX", "reconnecting in 8 s". */
  readonly detail: string | null;
  readonly lastError: string | null;
  readonly nextRetryAt: number | null;
}
