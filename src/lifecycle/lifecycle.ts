/**
 * One lifecycle for every long-lived part of the daemon (the daemon itself, the dispatcher, the
 * supervisor, each repo listener thread and each IMAP connection loop), so that the same state has
 * the same word everywhere and every change of state goes through one `transition()` that refuses
 * the ones that make no sense (modelled on the Temporal worker's INITIALIZED → RUNNING → STOPPING →
 * STOPPED | FAILED).
 *
 *   created → starting → running → stopping → stopped
 *   starting | running | stopping → failed        (start-up or work failed for good)
 *   created | starting | running | failed → stopping
 *   failed → starting                              (a restart: a listener thread that died)
 *
 * What a part is doing while it runs (a listener's idle / polling / backoff) is activity, not
 * lifecycle: it stays a separate field of that part.
 */
import { AirutError } from '../errors.ts';

export const LIFECYCLE_STATES = ['created', 'starting', 'running', 'stopping', 'stopped', 'failed'] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

/** Every allowed transition, from each state. Anything else is a bug in the caller. */
export const LIFECYCLE_TRANSITIONS: { readonly [S in LifecycleState]: readonly LifecycleState[] } = {
  // Stop before start is allowed: the daemon stops whatever it built when start-up fails half way.
  created: ['starting', 'stopping'],
  starting: ['running', 'stopping', 'failed'],
  running: ['stopping', 'failed'],
  // A shutdown step may fail for good; the part then says so rather than claiming `stopped`.
  stopping: ['stopped', 'failed'],
  // Failed is not the end: a part may be started again (a listener thread's restart) or stopped.
  failed: ['starting', 'stopping'],
  stopped: [],
};

/** A part was asked to change to a state it cannot reach from where it is. */
export class LifecycleError extends AirutError {
  constructor(
    readonly part: string,
    readonly from: LifecycleState,
    readonly to: LifecycleState,
  ) {
    const allowed = LIFECYCLE_TRANSITIONS[from];
    super(
      'LIFECYCLE_TRANSITION_REFUSED',
      `${part} cannot go from ${from} to ${to}; from ${from} it can only go to ${allowed.length ? allowed.join(', ') : 'nothing (it is final)'}`,
    );
  }
}

export function canTransition(from: LifecycleState, to: LifecycleState): boolean {
  return LIFECYCLE_TRANSITIONS[from].includes(to);
}

/** The one place a lifecycle state changes: returns `to`, or throws LifecycleError. */
export function transition(part: string, from: LifecycleState, to: LifecycleState): LifecycleState {
  if (!canTransition(from, to)) throw new LifecycleError(part, from, to);
  return to;
}

/** The state of one part, changed only through `transition()`. */
export class Lifecycle {
  private current: LifecycleState;

  /** `part` names it in errors: "dispatcher", "repo listener alpha". */
  constructor(
    readonly part: string,
    initial: LifecycleState = 'created',
  ) {
    this.current = initial;
  }

  get state(): LifecycleState {
    return this.current;
  }

  /** Moves to `to`, or throws LifecycleError and stays where it was. */
  to(to: LifecycleState): void {
    this.current = transition(this.part, this.current, to);
  }

  is(...states: readonly LifecycleState[]): boolean {
    return states.includes(this.current);
  }
}
