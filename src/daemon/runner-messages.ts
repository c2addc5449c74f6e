/**
 * Where the runner threads' messages go on the main thread: changes to the live feed (the
 * dashboard), storage faults to /health. The dispatcher only relays them; this is the one place
 * that knows what each message means to the rest of the daemon.
 */
import type { FeedProducer } from '../feed/live-feed.ts';
import type { RunnerFaults } from '../health/runner-faults.ts';
import type { RunnerToDispatcher } from '../protocol/runner.ts';

export interface RunnerMessageTargets {
  readonly feed: FeedProducer;
  readonly faults: Pick<RunnerFaults, 'record'>;
}

export function routeRunnerMessage(m: RunnerToDispatcher, to: RunnerMessageTargets): void {
  switch (m.type) {
    case 'event':
      to.feed.taskEvent({ taskId: m.taskId, eventId: m.eventId });
      return;
    case 'network':
      to.feed.network({ repoId: m.repoId, conversationId: m.conversationId, taskId: m.taskId, lastId: m.lastId });
      return;
    case 'task-changed':
    case 'stage':
      // A stage's start is in task_stages already; the task's page re-reads it.
      to.feed.taskChanged(m.taskId);
      return;
    case 'mail-queued':
      // The dispatcher wakes the mail sender itself; nothing for the feed.
      return;
    case 'storage-fault':
      to.faults.record(m.repoId, m.fault);
      return;
    default: {
      // Every message type is routed above; a new one fails to compile here until it is.
      const unrouted: never = m;
      return unrouted;
    }
  }
}
