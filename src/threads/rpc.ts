/**
 * Calls between threads that cannot hang.
 *
 * comlink gives us typed proxies over MessagePorts, but a comlink call whose other side has
 * exited simply never settles. Every remote here is wrapped so that each call:
 *   - rejects with THREAD_GONE as soon as the other side is known to be gone (worker exit,
 *     port closed), including calls already in flight;
 *   - rejects with THREAD_TIMEOUT after a deadline;
 *   - rethrows errors from the other side with their `code` intact: one of our codes as an
 *     AirutError, any other (SQLite, Node) as a RemoteError.
 * Each direction gets its own MessageChannel so requests and responses never mix.
 */
import * as Comlink from 'comlink';
import nodeEndpoint, { type NodeEndpoint } from 'comlink/dist/esm/node-adapter.mjs';
import type { MessagePort } from 'node:worker_threads';
import { AirutError, RemoteError, ThreadCallError, isErrorCode } from '../errors.ts';

// --- errors keep their code across the boundary -------------------------------------------

interface SerializedThrow {
  isError: boolean;
  value: { message: string; name: string; stack?: string; code?: string } | unknown;
}

const originalThrowHandler = Comlink.transferHandlers.get('throw')!;
Comlink.transferHandlers.set('throw', {
  canHandle: originalThrowHandler.canHandle,
  serialize(thrown: unknown) {
    const [serialized, transfers] = originalThrowHandler.serialize(thrown) as [SerializedThrow, unknown[]];
    const err = (thrown as { value: unknown }).value;
    if (serialized.isError && err instanceof Error) {
      const v = serialized.value as Record<string, unknown>;
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string') v.code = code;
    }
    return [serialized, transfers];
  },
  deserialize(serialized: unknown): never {
    const s = serialized as SerializedThrow;
    if (!s.isError) throw s.value;
    const v = s.value as { message: string; name: string; stack?: string; code?: string };
    const err = isErrorCode(v.code) ? new AirutError(v.code, v.message) : new RemoteError(v.code, v.message);
    err.name = v.name;
    if (v.stack) err.stack = v.stack;
    throw err;
  },
});

// --- guarded remotes ---------------------------------------------------------------------

/** The promise-returning shape of an API as seen from the other thread. */
export type Guarded<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export interface GuardOptions {
  /** Used in error messages: "repo listener api", "supervisor". */
  readonly peer: string;
  readonly timeoutMs: number;
  /** Per-method deadlines that differ from `timeoutMs`. */
  readonly methodTimeoutsMs?: Readonly<Record<string, number>>;
  readonly lifeline: Lifeline;
}

/**
 * Knows whether the other side is still there. `cut(reason)` is called by whoever observes the
 * departure (a worker's `exit` event, a port's `close`); every pending and future call rejects.
 */
export class Lifeline {
  private goneReason: string | null = null;
  private readonly waiters = new Set<(reason: string) => void>();

  get isCut(): boolean {
    return this.goneReason !== null;
  }

  cut(reason: string): void {
    if (this.goneReason !== null) return;
    this.goneReason = reason;
    for (const w of this.waiters) w(reason);
    this.waiters.clear();
  }

  /** Resolves with the reason once cut; the returned function unsubscribes. */
  onCut(fn: (reason: string) => void): () => void {
    if (this.goneReason !== null) {
      fn(this.goneReason);
      return () => {};
    }
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }
}

export function guardRemote<T extends object>(remote: Comlink.Remote<T>, options: GuardOptions): Guarded<T> {
  return new Proxy({} as Guarded<T>, {
    get(_target, prop) {
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return (...args: unknown[]) => callGuarded(remote, prop, args, options);
    },
  });
}

function callGuarded<T>(remote: Comlink.Remote<T>, method: string, args: unknown[], o: GuardOptions): Promise<unknown> {
  if (o.lifeline.isCut) {
    return Promise.reject(new ThreadCallError('THREAD_GONE', `${o.peer} is gone; ${method}() was not delivered`));
  }
  const timeoutMs = o.methodTimeoutsMs?.[method] ?? o.timeoutMs;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new ThreadCallError('THREAD_TIMEOUT', `${o.peer} did not answer ${method}() within ${timeoutMs} ms`)),
        ),
      timeoutMs,
    );
    const unsubscribe = o.lifeline.onCut((reason) =>
      finish(() => reject(new ThreadCallError('THREAD_GONE', `${o.peer} went away during ${method}(): ${reason}`))),
    );
    const fn = (remote as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!;
    fn(...args).then(
      (value) => finish(() => resolve(value)),
      (err: unknown) => finish(() => reject(err)),
    );
  });
}

// --- wiring ------------------------------------------------------------------------------

/** Serves `api` on `port` (the side that answers calls). */
export function serveApi<T extends object>(api: T, port: MessagePort): void {
  Comlink.expose(api, nodeEndpoint(port as unknown as NodeEndpoint));
}

/** Wraps `port` as a guarded remote of type T (the side that makes calls). */
export function connectApi<T extends object>(port: MessagePort, options: GuardOptions): Guarded<T> {
  const remote = Comlink.wrap<T>(nodeEndpoint(port as unknown as NodeEndpoint));
  port.on('close', () => options.lifeline.cut('message port closed'));
  return guardRemote(remote, options);
}
