/**
 * Server-sent events, mounted at `/api/stream`. `/tasks` pushes a re-rendered card whenever a task
 * changes; `/tasks/:id` first replays the task's events after the client's cursor (`?after=` or
 * the `Last-Event-ID` an EventSource sends when it reconnects), then follows new ones, so a page
 * opened mid-run shows the past and then the rest. `/conversations/:repo/:id` does the same for a
 * conversation's network log (cursor = network_requests id) and also pushes the re-rendered card
 * of any of its tasks that changes. ../live-stream.ts runs each connection.
 */
import { Hono, type Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import { isTaskStatus } from '../../store/dashboard-queries.ts';
import { conversationExists } from '../../store/conversations.ts';
import { listNetworkRequests, networkCursorKeepingNewest } from '../../store/network-log.ts';
import { listMailForTask } from '../../store/outgoing-mail.ts';
import { listTaskEvents } from '../../store/task-events.ts';
import { getTask, type TaskRow } from '../../store/task-queries.ts';
import { currentTaskStage } from '../../store/task-stages.ts';
import type { DashboardDeps } from '../context.ts';
import { DashboardError } from '../http-error.ts';
import { refuseWhenFull, runStream, type Enqueue } from '../live-stream.ts';
import { parseId } from '../params.ts';
import { NETWORK_LIVE_ROWS, networkRow } from '../network-view.ts';
import { taskCard, taskSummary, timelineEvent } from '../views.ts';
import { scopeOf, scopeSees } from '../access-scope.ts';
import { requireRepo } from '../scope-guard.ts';

const REPLAY_BATCH = 500;

/** Where a reconnecting client left off: the later of `Last-Event-ID` and `?after=`. */
function resumeCursor(c: Context): number {
  return Math.max(parseId(c.req.header('last-event-id')) ?? 0, parseId(c.req.query('after')) ?? 0);
}

function taskListStream(d: DashboardDeps, c: Context): Response {
  refuseWhenFull(d);
  const repo = c.req.query('repo') || undefined;
  const statusParam = c.req.query('status') || undefined;
  const status = statusParam && isTaskStatus(statusParam) ? statusParam : undefined;
  const scope = scopeOf(c);
  return streamSSE(c, (stream) =>
    runStream(d, stream, (enqueue) =>
      d.hub.subscribeTasks((row: TaskRow) => {
        if ((repo !== undefined && row.repoId !== repo) || !scopeSees(scope, row.repoId)) return;
        const data =
          status !== undefined && row.status !== status
            ? { id: row.id, remove: true }
            : { id: row.id, status: row.status, html: taskCard(row, d.now()).value };
        enqueue(() => stream.writeSSE({ event: 'task', data: JSON.stringify(data) }));
      }),
    ),
  );
}

/** The task's events after the cursor, in batches, moving the cursor past each one written. */
async function writeTaskEvents(d: DashboardDeps, stream: SSEStreamingApi, taskId: number, cursor: { at: number }): Promise<void> {
  for (;;) {
    const events = listTaskEvents(d.o.db, taskId, cursor.at, REPLAY_BATCH);
    for (const e of events) {
      await stream.writeSSE({ event: 'timeline', id: String(e.id), data: JSON.stringify({ id: e.id, kind: e.kind, html: timelineEvent(e).value }) });
      cursor.at = e.id;
    }
    if (events.length < REPLAY_BATCH) return;
  }
}

async function writeTaskSummary(d: DashboardDeps, stream: SSEStreamingApi, row: TaskRow): Promise<void> {
  const html = taskSummary(row, listMailForTask(d.o.db, row.id), d.security.csrfToken, d.now(), currentTaskStage(d.o.db, row.id)).value;
  await stream.writeSSE({ event: 'task', data: JSON.stringify({ id: row.id, status: row.status, html }) });
}

function taskStream(d: DashboardDeps, c: Context): Response {
  refuseWhenFull(d);
  const id = parseId(c.req.param('id'));
  const task = id === undefined ? null : getTask(d.o.db, id);
  const notFound = (): DashboardError => new DashboardError(404, 'no such task');
  if (!task) throw notFound();
  requireRepo(c, task.repoId, notFound);
  const cursor = { at: resumeCursor(c) };
  return streamSSE(c, (stream) =>
    runStream(d, stream, (enqueue) => {
      const sendEvents = (): Promise<void> => writeTaskEvents(d, stream, task.id, cursor);
      // Subscribe first, then replay: nothing appended in between can be missed, and the
      // cursor makes a notification for an already-replayed event a no-op.
      const unsubscribe = d.hub.subscribeTask(
        task.id,
        (row) => enqueue(() => writeTaskSummary(d, stream, row)),
        () => enqueue(sendEvents),
      );
      enqueue(sendEvents);
      // The row may have changed between the page render and this connection.
      enqueue(async () => {
        const row = getTask(d.o.db, task.id);
        if (row) await writeTaskSummary(d, stream, row);
      });
      return unsubscribe;
    }),
  );
}

interface ConversationCursor {
  readonly repoId: string;
  readonly convId: string;
  at: number;
}

/** The conversation's network log rows after the cursor, in batches, moving the cursor along. */
async function writeNetworkRows(d: DashboardDeps, stream: SSEStreamingApi, cur: ConversationCursor): Promise<void> {
  for (;;) {
    const rows = listNetworkRequests(d.o.db, cur.repoId, cur.convId, cur.at, REPLAY_BATCH);
    for (const r of rows) {
      await stream.writeSSE({
        event: 'network',
        id: String(r.id),
        data: JSON.stringify({ id: r.id, taskId: r.taskId, allowed: r.allowed, html: networkRow(r).value }),
      });
      cur.at = r.id;
    }
    if (rows.length < REPLAY_BATCH) return;
  }
}

/**
 * A viewer far behind (a stale cursor, a script starting at 0 on a huge log) skips to the newest
 * rows the page would keep anyway, and is told so.
 */
async function skipToNewest(d: DashboardDeps, stream: SSEStreamingApi, cur: ConversationCursor): Promise<void> {
  const resumeAfter = networkCursorKeepingNewest(d.o.db, cur.repoId, cur.convId, cur.at, NETWORK_LIVE_ROWS);
  if (resumeAfter === cur.at) return;
  await stream.writeSSE({ event: 'skipped', id: String(resumeAfter), data: JSON.stringify({ after: cur.at, resumeAfter }) });
  cur.at = resumeAfter;
}

function followConversation(d: DashboardDeps, stream: SSEStreamingApi, cur: ConversationCursor, enqueue: Enqueue): () => void {
  const sendRows = (): Promise<void> => writeNetworkRows(d, stream, cur);
  const subscription = d.hub.subscribeConversation(
    cur.repoId,
    cur.convId,
    (row) => enqueue(() => stream.writeSSE({ event: 'task', data: JSON.stringify({ id: row.id, status: row.status, html: taskCard(row, d.now()).value }) })),
    (lastId) => {
      if (lastId > cur.at) enqueue(sendRows);
    },
  );
  enqueue(() => skipToNewest(d, stream, cur));
  enqueue(sendRows);
  return subscription;
}

function conversationStream(d: DashboardDeps, c: Context, repoId: string, convId: string): Response {
  refuseWhenFull(d);
  const notFound = (): DashboardError => new DashboardError(404, 'no such conversation');
  requireRepo(c, repoId, notFound);
  if (!conversationExists(d.o.db, repoId, convId)) throw notFound();
  const cur: ConversationCursor = { repoId, convId, at: resumeCursor(c) };
  return streamSSE(c, (stream) => runStream(d, stream, (enqueue) => followConversation(d, stream, cur, enqueue)));
}

/** Mounted at `/api/stream`. */
export function streamRoutes(d: DashboardDeps): Hono {
  return new Hono()
    .get('/tasks', (c) => taskListStream(d, c))
    .get('/tasks/:id', (c) => taskStream(d, c))
    .get('/conversations/:repo/:id', (c) => conversationStream(d, c, c.req.param('repo'), c.req.param('id')));
}
