/**
 * A level-triggered wake-up: `notify()` before `wait()` is not lost. The listener uses it for
 * "the mailbox changed" (an IMAP EXISTS that can arrive while we are busy fetching) and for stop.
 */
export class WakeSignal {
  private pending = false;
  private waiters: Array<() => void> = [];

  notify(): void {
    this.pending = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** True if notified since the last `consume()`; clears the flag. */
  consume(): boolean {
    const was = this.pending;
    this.pending = false;
    return was;
  }

  get isPending(): boolean {
    return this.pending;
  }

  wait(): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Resolves after `ms`, or earlier when `signal` is notified. Never rejects. */
export function sleepUnless(ms: number, signal: WakeSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    void signal.wait().then(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** A timer that can be cleared: the listener's waits race it against events and clear it when they win. */
export interface Timer {
  /** Resolves when the time is up; never if cancelled first. */
  readonly done: Promise<void>;
  cancel(): void;
}

/** Starts a timer of `ms` that does not keep the process alive. */
export function startTimer(ms: number): Timer {
  let handle: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    handle = setTimeout(resolve, Math.max(0, ms));
    handle.unref();
  });
  return { done, cancel: () => clearTimeout(handle) };
}
