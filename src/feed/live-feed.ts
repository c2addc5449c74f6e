/**
 * The live feed: what just changed, for whoever shows it live (the dashboard's open streams).
 * Producers call one typed method per kind of change (`taskChanged`, `taskEvent`, `network`);
 * subscribers name the kind they want and get its typed payload. The types live here, not in the
 * dashboard, because the producers (the daemon's routing of runner messages, the supervisor's
 * recorded mail, the operator actions) must not depend on the dashboard.
 *
 * In-process and synchronous, like the EventEmitter it replaces: a subscriber runs inside the
 * producer's call, so it must be quick and must not throw. Nothing is buffered: a subscriber that
 * was not listening reads the rows from the store after its cursor, which is where the truth is.
 */

/** A task_events row was appended. */
export interface TaskEventAppended {
  readonly taskId: number;
  readonly eventId: number;
}

/** Network log rows up to `lastId` were stored for a conversation (src/store/network-log.ts). */
export interface NetworkRowsStored {
  readonly repoId: string;
  readonly conversationId: string;
  readonly taskId: number;
  readonly lastId: number;
}

/** Each kind of change and its payload. */
export interface FeedEvents {
  /** A task row changed (created, status, sandbox flag, etc.): its id. */
  readonly task: number;
  readonly 'task-event': TaskEventAppended;
  readonly network: NetworkRowsStored;
}
export type FeedKind = keyof FeedEvents;
export type FeedListener<K extends FeedKind> = (change: FeedEvents[K]) => void;

/** What a producer may do: say what changed. */
export interface FeedProducer {
  taskChanged(taskId: number): void;
  taskEvent(e: TaskEventAppended): void;
  network(e: NetworkRowsStored): void;
}

/** What a subscriber may do: listen to one kind of change until it calls the returned function. */
export interface FeedSource {
  subscribe<K extends FeedKind>(kind: K, listener: FeedListener<K>): () => void;
  listenerCount(kind: FeedKind): number;
}

export class LiveFeed implements FeedProducer, FeedSource {
  private readonly listeners: { [K in FeedKind]: Set<FeedListener<K>> } = {
    task: new Set(),
    'task-event': new Set(),
    network: new Set(),
  };

  taskChanged(taskId: number): void {
    this.publish('task', taskId);
  }

  taskEvent(e: TaskEventAppended): void {
    this.publish('task-event', e);
  }

  network(e: NetworkRowsStored): void {
    this.publish('network', e);
  }

  subscribe<K extends FeedKind>(kind: K, listener: FeedListener<K>): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry: FeedListener<K> = (change) => listener(change);
    const set = this.listeners[kind] as Set<FeedListener<K>>;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  listenerCount(kind: FeedKind): number {
    return this.listeners[kind].size;
  }

  protected publish<K extends FeedKind>(kind: K, change: FeedEvents[K]): void {
    // A copy: a listener may unsubscribe (a stream closing) while the change is delivered.
    for (const listener of [...(this.listeners[kind] as Set<FeedListener<K>>)]) listener(change);
  }
}
