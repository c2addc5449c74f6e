/**
 * One server-sent-events connection from open to close: its subscription, heartbeats, and
 * writes serialized through a promise chain so that a replay and live events never interleave or
 * repeat. Every open stream is counted in `DashboardDeps.streams`, which caps them and lets the
 * server end them all when it closes.
 */
import type { SSEStreamingApi } from 'hono/streaming';
import type { DashboardDeps } from './context.ts';
import { DashboardError } from './http-error.ts';

/** Comments this often keep proxies and load balancers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** Open streams at most; more get 503 (each holds a socket and a feed subscription). */
export const MAX_STREAMS = 200;

/** Queues a write after every earlier one; a write that fails ends the stream. */
export type Enqueue = (fn: () => Promise<void>) => void;

/** Refuses a new stream while MAX_STREAMS are open. */
export function refuseWhenFull(d: DashboardDeps): void {
  if (d.streams.size >= MAX_STREAMS) throw new DashboardError(503, 'too many live connections; try again later');
}

/**
 * Runs a stream until the client goes away or the dashboard closes: sets up the subscription,
 * writes heartbeats, and always cleans up.
 */
export async function runStream(d: DashboardDeps, stream: SSEStreamingApi, setup: (enqueue: Enqueue) => () => void): Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  let wake: (() => void) | null = null;
  const end = (): void => {
    closed = true;
    wake?.();
  };
  const enqueue: Enqueue = (fn) => {
    chain = chain.then(async () => {
      if (closed) return;
      try {
        await fn();
      } catch {
        end(); // the socket is gone; stop writing
      }
    });
  };
  d.streams.add(end);
  stream.onAbort(end);
  let unsubscribe: (() => void) | null = null;
  try {
    unsubscribe = setup(enqueue);
    await stream.write('retry: 3000\n\n');
    while (!closed && !stream.aborted) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        const t = setTimeout(resolve, HEARTBEAT_MS);
        t.unref();
      });
      wake = null;
      if (closed || stream.aborted) break;
      enqueue(() => stream.write(': keep-alive\n\n').then(() => undefined));
    }
  } finally {
    closed = true;
    unsubscribe?.();
    d.streams.delete(end);
  }
}
