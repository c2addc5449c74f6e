/**
 * Server-sent events. `/api/stream/tasks` pushes a re-rendered card whenever a task changes;
 * `/api/stream/tasks/:id` first replays the task's events after the client's cursor (`?after=` or
 * the `Last-Event-ID` an EventSource sends when it reconnects), then follows new ones, so a page
 * opened mid-run shows the past and then the rest. Writes of one stream are serialized through a
 * promise chain, so the replay and live events never interleave or repeat.
 * `/api/stream/conversations/:repo/:id` does the same for a conversation's network log (cursor =
 * network_requests id) and also pushes the re-rendered card of any of its tasks that changes.
 */
import type { Context, Hono } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { conversationExists, isTaskStatus } from '../store/dashboard-queries.ts';
import { listNetworkRequests, networkCursorKeepingNewest } from '../store/network-log.ts';
import { listMailForTask } from '../store/outgoing-mail.ts';
import { listTaskEvents } from '../store/task-events.ts';
import { getTask, type TaskRow } from '../store/task-queries.ts';
import type { DashboardDeps } from './context.ts';
import { parseId } from './pages.ts';
import { NETWORK_LIVE_ROWS, networkRow } from './network-view.ts';
import { taskCard, taskSummary, timelineEvent } from './views.ts';

/** Comments this often keep proxies and load balancers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** Open streams at most; more get 503 (each holds a socket and a feed subscription). */
export const MAX_STREAMS = 200;
const REPLAY_BATCH = 500;

function tooMany(c: Context, d: DashboardDeps): Response | null {
  if (d.streams.size < MAX_STREAMS) return null;
  return c.json({ error: 'too many live connections; try again later' }, 503);
}

/**
 * Runs a stream until the client goes away or the dashboard closes: sets up the subscription,
 * writes heartbeats, and always cleans up.
 */
async function runStream(
  d: DashboardDeps,
  stream: SSEStreamingApi,
  setup: (enqueue: (fn: () => Promise<void>) => void) => () => void,
): Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  let wake: (() => void) | null = null;
  const end = (): void => {
    closed = true;
    wake?.();
  };
  const enqueue = (fn: () => Promise<void>): void => {
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

export function registerStreams(app: Hono, d: DashboardDeps): void {
  const { db } = d.o;

  app.get('/api/stream/tasks', (c) => {
    const busy = tooMany(c, d);
    if (busy) return busy;
    const repo = c.req.query('repo') || undefined;
    const statusParam = c.req.query('status') || undefined;
    const status = statusParam && isTaskStatus(statusParam) ? statusParam : undefined;
    return streamSSE(c, (stream) =>
      runStream(d, stream, (enqueue) =>
        d.hub.subscribeTasks((row: TaskRow) => {
          if (repo !== undefined && row.repoId !== repo) return;
          const data =
            status !== undefined && row.status !== status
              ? { id: row.id, remove: true }
              : { id: row.id, status: row.status, html: taskCard(row, d.now()).value };
          enqueue(() => stream.writeSSE({ event: 'task', data: JSON.stringify(data) }));
        }),
      ),
    );
  });

  app.get('/api/stream/tasks/:id', (c) => {
    const busy = tooMany(c, d);
    if (busy) return busy;
    const id = parseId(c.req.param('id'));
    const task = id === undefined ? null : getTask(db, id);
    if (!task) return c.json({ error: 'no such task' }, 404);
    const fromHeader = parseId(c.req.header('last-event-id')) ?? 0;
    const fromQuery = parseId(c.req.query('after')) ?? 0;
    let cursor = Math.max(fromHeader, fromQuery);

    return streamSSE(c, (stream) =>
      runStream(d, stream, (enqueue) => {
        const sendEvents = async (): Promise<void> => {
          for (;;) {
            const events = listTaskEvents(db, task.id, cursor, REPLAY_BATCH);
            for (const e of events) {
              await stream.writeSSE({
                event: 'timeline',
                id: String(e.id),
                data: JSON.stringify({ id: e.id, kind: e.kind, html: timelineEvent(e).value }),
              });
              cursor = e.id;
            }
            if (events.length < REPLAY_BATCH) return;
          }
        };
        const sendTask = async (row: TaskRow): Promise<void> => {
          const html = taskSummary(row, listMailForTask(db, row.id), d.security.csrfToken, d.now()).value;
          await stream.writeSSE({ event: 'task', data: JSON.stringify({ id: row.id, status: row.status, html }) });
        };
        // Subscribe first, then replay: nothing appended in between can be missed, and the
        // cursor makes a notification for an already-replayed event a no-op.
        const unsubscribe = d.hub.subscribeTask(
          task.id,
          (row) => enqueue(() => sendTask(row)),
          () => enqueue(sendEvents),
        );
        enqueue(sendEvents);
        // The row may have changed between the page render and this connection.
        enqueue(async () => {
          const row = getTask(db, task.id);
          if (row) await sendTask(row);
        });
        return unsubscribe;
      }),
    );
  });

  app.get('/api/stream/conversations/:repo/:id', (c) => {
    const busy = tooMany(c, d);
    if (busy) return busy;
    const repoId = c.req.param('repo');
    const convId = c.req.param('id');
    if (!conversationExists(db, repoId, convId)) return c.json({ error: 'no such conversation' }, 404);
    const fromHeader = parseId(c.req.header('last-event-id')) ?? 0;
    const fromQuery = parseId(c.req.query('after')) ?? 0;
    let cursor = Math.max(fromHeader, fromQuery);

    return streamSSE(c, (stream) =>
      runStream(d, stream, (enqueue) => {
        const sendRows = async (): Promise<void> => {
          for (;;) {
            const rows = listNetworkRequests(db, repoId, convId, cursor, REPLAY_BATCH);
            for (const r of rows) {
              await stream.writeSSE({
                event: 'network',
                id: String(r.id),
                data: JSON.stringify({ id: r.id, taskId: r.taskId, allowed: r.allowed, html: networkRow(r).value }),
              });
              cursor = r.id;
            }
            if (rows.length < REPLAY_BATCH) return;
          }
        };
        const subscription = d.hub.subscribeConversation(
          repoId,
          convId,
          (row) => enqueue(() => stream.writeSSE({ event: 'task', data: JSON.stringify({ id: row.id, status: row.status, html: taskCard(row, d.now()).value }) })),
          (lastId) => {
            if (lastId > cursor) enqueue(sendRows);
          },
        );
        // A viewer far behind (a stale cursor, a script starting at 0 on a huge log) skips to the
        // newest rows the page would keep anyway, and is told so.
        enqueue(async () => {
          const resumeAfter = networkCursorKeepingNewest(db, repoId, convId, cursor, NETWORK_LIVE_ROWS);
          if (resumeAfter === cursor) return;
          await stream.writeSSE({ event: 'skipped', id: String(resumeAfter), data: JSON.stringify({ after: cursor, resumeAfter }) });
          cursor = resumeAfter;
        });
        enqueue(sendRows);
        return subscription;
      }),
    );
  });
}
