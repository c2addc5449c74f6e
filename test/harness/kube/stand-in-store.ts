/**
 * The stand-in API server's storage: objects by kind and name, one global resourceVersion counter (as etcd's
 * revision), a bounded history of watch events, and the open watches. A watch from a resourceVersion older than the
 * history is answered 410 Gone, as the real server does after compaction.
 */
import type { ServerResponse } from 'node:http';

export type StandInKind = 'pod' | 'secret' | 'networkpolicy';
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

// Objects are plain JSON as received; metadata is what the store reads and writes.
export interface KubeObject {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string; uid?: string;
    creationTimestamp?: string; deletionTimestamp?: string; deletionGracePeriodSeconds?: number; [k: string]: unknown };
  [k: string]: unknown;
}

interface HistoryEvent { readonly rv: number; readonly kind: StandInKind; readonly type: EventType; readonly object: KubeObject }

export interface WatchFilter { readonly kind: StandInKind; readonly labels: ReadonlyMap<string, string>; readonly name: string | null }

interface OpenWatch { readonly filter: WatchFilter; readonly res: ServerResponse }

const HISTORY_LIMIT = 1000;

export class ObjectStore {
  readonly #objects = new Map<StandInKind, Map<string, KubeObject>>([['pod', new Map()], ['secret', new Map()], ['networkpolicy', new Map()]]);
  #history: HistoryEvent[] = [];
  #rv = 1;
  /** Events at or before this revision are forgotten. */
  #compacted = 1;
  #uid = 0;
  readonly #watches = new Set<OpenWatch>();

  get resourceVersion(): string {
    return String(this.#rv);
  }

  get(kind: StandInKind, name: string): KubeObject | undefined {
    return this.#objects.get(kind)!.get(name);
  }

  all(kind: StandInKind): KubeObject[] {
    return [...this.#objects.get(kind)!.values()];
  }

  matching(filter: WatchFilter): KubeObject[] {
    return this.all(filter.kind).filter((o) => matches(o, filter));
  }

  /** Stores a new object (the caller checked the name is free). */
  add(kind: StandInKind, obj: KubeObject): KubeObject {
    obj.metadata.uid = `uid-${++this.#uid}`;
    obj.metadata.creationTimestamp = new Date().toISOString();
    this.#objects.get(kind)!.set(obj.metadata.name, obj);
    this.#record(kind, 'ADDED', obj);
    return obj;
  }

  /** Records a change made to a stored object in place. */
  modified(kind: StandInKind, obj: KubeObject): void {
    if (this.get(kind, obj.metadata.name) === obj) this.#record(kind, 'MODIFIED', obj);
  }

  remove(kind: StandInKind, name: string): KubeObject | undefined {
    const obj = this.get(kind, name);
    if (!obj) return undefined;
    this.#objects.get(kind)!.delete(name);
    this.#record(kind, 'DELETED', obj);
    return obj;
  }

  /**
   * Opens a watch: replays the events after `since` (or, without one, every matching object as ADDED), then streams.
   * Returns false when `since` is older than the history: the caller answers 410.
   */
  watch(filter: WatchFilter, since: number | null, res: ServerResponse): boolean {
    if (since !== null && since < this.#compacted) return false;
    const initial = since === null
      ? this.matching(filter).map((o) => ({ type: 'ADDED' as const, object: o }))
      : this.#history.filter((e) => e.rv > since && e.kind === filter.kind && matches(e.object, filter));
    for (const e of initial) writeEvent(res, e.type, e.object);
    const w = { filter, res };
    this.#watches.add(w);
    res.on('close', () => this.#watches.delete(w));
    return true;
  }

  /** Ends every open watch (an API-server restart); `forget` also drops the history, so resumed watches get 410. */
  dropWatches(forget: boolean): void {
    for (const w of this.#watches) w.res.destroy();
    this.#watches.clear();
    if (forget) {
      // A compaction moves the revision on: even a watcher that saw the newest event must re-list.
      this.#rv += 1;
      this.#compacted = this.#rv;
      this.#history = [];
    }
  }

  #record(kind: StandInKind, type: EventType, obj: KubeObject): void {
    this.#rv += 1;
    obj.metadata.resourceVersion = String(this.#rv);
    // Snapshots: later in-place changes must not rewrite what a resumed watch replays.
    const object = structuredClone(obj);
    this.#history.push({ rv: this.#rv, kind, type, object });
    if (this.#history.length > HISTORY_LIMIT) this.#compacted = this.#history.shift()!.rv;
    for (const w of this.#watches) if (w.filter.kind === kind && matches(object, w.filter)) writeEvent(w.res, type, object);
  }
}

export function matches(obj: KubeObject, filter: WatchFilter): boolean {
  if (filter.name !== null && obj.metadata.name !== filter.name) return false;
  for (const [k, v] of filter.labels) if (obj.metadata.labels?.[k] !== v) return false;
  return true;
}

export function writeEvent(res: ServerResponse, type: string, object: unknown): void {
  res.write(`${JSON.stringify({ type, object })}\n`);
}
