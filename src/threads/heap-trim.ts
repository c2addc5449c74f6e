/**
 * Gives an idle thread's spare heap back to the system.
 *
 * V8 returns a heap's unused pages through its memory reducer, which runs a collection once an
 * isolate's allocation rate drops. In a listener isolate it never does: traced with
 * `--trace-memory-reducer`, the reducer wakes every 8 s for the life of the thread, judges the
 * rate "high" and waits again. So whatever start-up and the last mail left behind stays resident,
 * about 5 MiB per repository (docs/benchmarks.md, listener isolate). A thread that knows it is
 * idle asks for the collection itself: V8's `gc()` with the last-resort flavour, the repeated,
 * compacting collections of a low-memory notification, which also release pooled pages. It costs
 * about 50 ms in a listener; one plain major collection costs 14 ms but left 140 MiB more in 100
 * listeners after a mail each (docs/benchmarks.md, scale). The listener draws its delay so that the
 * collections of many listeners spread out (workers/repo-listener.ts).
 *
 * `gc()` exists only where V8's `--expose-gc` was set when the context was created. The main
 * thread sets it before it makes a thread bundle's code cache (src/threads/code-cache.ts: V8 takes
 * a cache only under the flags it was made with), so before any thread starts, and a thread reaches
 * the function through a fresh `vm` context, leaving its own global untouched. No untrusted code runs
 * in a context of this process, so the function is no one else's to call.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcOptions = { type: 'major'; execution: 'sync'; flavor: 'last-resort' };
type GcFunction = (options?: GcOptions) => void;

let exposed = false;

/** Main thread, before making a thread bundle's code cache. Idempotent. */
export function exposeGcToThreads(): void {
  if (exposed) return;
  setFlagsFromString('--expose-gc');
  exposed = true;
}

/**
 * A function that runs the full, memory-reducing collection in the calling thread, or null when
 * the process did not expose `gc()` (then trimming is skipped: V8 manages the heap as it would).
 */
export function fullCollector(): (() => void) | null {
  let gc: unknown;
  try {
    gc = runInNewContext('typeof gc === "function" ? gc : null');
  } catch {
    return null;
  }
  if (typeof gc !== 'function') return null;
  return () => (gc as GcFunction)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/**
 * Trims the heap once the thread has been quiet for `delayMs`: `quiet()` when it goes idle (a
 * listener in IDLE or between polls), `busy()` when work starts; a busy spell before the delay
 * is up cancels the trim, so a burst of mail is not slowed by collections between its messages.
 */
export class IdleHeapTrim {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly collect: (() => void) | null,
    private readonly delayMs: number,
  ) {}

  quiet(): void {
    if (!this.collect || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.collect?.();
    }, this.delayMs);
    // Never what keeps a stopping thread alive.
    this.timer.unref();
  }

  busy(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
