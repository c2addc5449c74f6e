/**
 * Fans the daemon's live feed out to the dashboard's open streams. The hub holds at most one
 * subscription per kind of change on the feed, made while at least one stream is open and
 * dropped when the last one closes, so a busy dashboard costs the producers one call per change
 * and an idle one costs nothing. A changed task row is read once per change, whatever the number of viewers.
 * Conversation subscribers (the conversation page) get the conversation's changed task rows and a
 * nudge when network log rows were stored for it; they read the rows themselves after their cursor.
 */
import type { Logger } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import { getTask, type TaskRow } from '../store/task-queries.ts';
import type { FeedSource, NetworkRowsStored, TaskEventAppended } from '../feed/live-feed.ts';

type TaskListener = (row: TaskRow) => void;
type EventListener = () => void;
/** `lastId`: the newest network_requests row stored. */
type NetworkListener = (lastId: number) => void;
interface ConversationSub {
  readonly onTask: TaskListener;
  readonly onNetwork: NetworkListener;
}

function conversationKey(repoId: string, conversationId: string): string {
  return `${repoId}\u0000${conversationId}`;
}

export class LiveHub {
  private readonly listSubs = new Set<TaskListener>();
  private readonly taskSubs = new Map<number, Set<{ onTask: TaskListener; onEvent: EventListener }>>();
  private readonly conversationSubs = new Map<string, Set<ConversationSub>>();
  /** The feed subscriptions while attached: their unsubscribe functions. */
  private detach: Array<() => void> | null = null;
  private subscribers = 0;

  private readonly onTask = (taskId: number): void => {
    const perTask = this.taskSubs.get(taskId);
    if (this.listSubs.size === 0 && !perTask && this.conversationSubs.size === 0) return;
    let row: TaskRow | null;
    try {
      row = getTask(this.db, taskId);
    } catch (err) {
      this.log.warn({ task: taskId, err: (err as Error).message }, 'dashboard: could not read a changed task');
      return;
    }
    if (!row) return;
    for (const fn of this.listSubs) fn(row);
    if (perTask) for (const s of perTask) s.onTask(row);
    if (row.conversationId !== null) {
      const perConversation = this.conversationSubs.get(conversationKey(row.repoId, row.conversationId));
      if (perConversation) for (const s of perConversation) s.onTask(row);
    }
  };

  private readonly onNetwork = (e: NetworkRowsStored): void => {
    const subs = this.conversationSubs.get(conversationKey(e.repoId, e.conversationId));
    if (subs) for (const s of subs) s.onNetwork(e.lastId);
  };

  private readonly onTaskEvent = (e: TaskEventAppended): void => {
    const perTask = this.taskSubs.get(e.taskId);
    if (perTask) for (const s of perTask) s.onEvent();
  };

  constructor(
    private readonly feed: FeedSource,
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  get subscriberCount(): number {
    return this.subscribers;
  }

  /** Every changed task row. Returns the unsubscribe function. */
  subscribeTasks(fn: TaskListener): () => void {
    this.listSubs.add(fn);
    return this.track(() => this.listSubs.delete(fn));
  }

  /** Changes of one task: its row, and new events (read them from the store after your cursor). */
  subscribeTask(taskId: number, onTask: TaskListener, onEvent: EventListener): () => void {
    const entry = { onTask, onEvent };
    let set = this.taskSubs.get(taskId);
    if (!set) this.taskSubs.set(taskId, (set = new Set()));
    set.add(entry);
    return this.track(() => {
      const s = this.taskSubs.get(taskId);
      s?.delete(entry);
      if (s && s.size === 0) this.taskSubs.delete(taskId);
    });
  }

  /** One conversation: its tasks' changed rows, and a nudge whenever network log rows were stored for it. */
  subscribeConversation(repoId: string, conversationId: string, onTask: TaskListener, onNetwork: NetworkListener): () => void {
    const key = conversationKey(repoId, conversationId);
    const entry: ConversationSub = { onTask, onNetwork };
    let set = this.conversationSubs.get(key);
    if (!set) this.conversationSubs.set(key, (set = new Set()));
    set.add(entry);
    return this.track(() => {
      const s = this.conversationSubs.get(key);
      s?.delete(entry);
      if (s && s.size === 0) this.conversationSubs.delete(key);
    });
  }

  private track(remove: () => void): () => void {
    this.subscribers++;
    this.detach ??= [
      this.feed.subscribe('task', this.onTask),
      this.feed.subscribe('task-event', this.onTaskEvent),
      this.feed.subscribe('network', this.onNetwork),
    ];
    let done = false;
    return () => {
      if (done) return;
      done = true;
      remove();
      this.subscribers--;
      if (this.subscribers === 0 && this.detach) {
        for (const off of this.detach) off();
        this.detach = null;
      }
    };
  }
}
