/**
 * Watching a task until it ends: by polling `GET /api/tasks/:id` (`--wait`) or by following its
 * event stream (`--follow`, `airut logs --follow`).
 *
 * The stream is used as a wake-up only: its `timeline` events carry HTML for the dashboard page,
 * so on each batch of them the watcher reads the new events as JSON (`?after=` the last one seen)
 * and the status from the same answer. The dashboard's stream never ends by itself; the watcher
 * closes it when the task reached a final state. A stream that drops (a daemon restart) is opened
 * again from the cursor, so nothing is shown twice or missed.
 */
import { AirutError } from '../errors.ts';
import type { ApiClient } from './api-client.ts';
import { isTaskFinal, type ApiTaskDetail, type ApiTaskEvent } from './api-types.ts';
import { SseParser } from './sse.ts';

/** Between polls of `--wait`, and before opening a dropped stream again. */
export const POLL_INTERVAL_MS = 1000;
/** Stream connections in a row that may fail before --follow gives up. */
const MAX_STREAM_RETRIES = 5;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface WatchOptions {
  /** Events after this id are new (0: all of them). */
  readonly after: number;
  /** Called with each batch of new events, in order. */
  readonly onEvents: (events: readonly ApiTaskEvent[]) => void;
}

function taskPath(id: number, after: number): string {
  return `/api/tasks/${id}${after > 0 ? `?after=${after}` : ''}`;
}

/** Events per answer of `GET /api/tasks/:id` at most (src/dashboard/routes/api.ts): a full page means there may be more. */
const EVENTS_PAGE = 5000;

/** The task with every event after `after`, however many pages that takes. */
export async function readTask(client: ApiClient, id: number, after: number): Promise<ApiTaskDetail> {
  let detail = await client.getJson<ApiTaskDetail>(taskPath(id, after), `task ${id}`);
  let page = detail.events;
  while (page.length >= EVENTS_PAGE) {
    const next = await client.getJson<ApiTaskDetail>(taskPath(id, page[page.length - 1]!.id), `task ${id}`);
    page = next.events;
    // The newest answer's task row and result, with every event read so far.
    detail = { ...next, events: [...detail.events, ...page] };
  }
  return detail;
}

/** Reads what is new since the cursor, hands it on, and moves the cursor. */
async function catchUp(client: ApiClient, id: number, cursor: { at: number }, o: WatchOptions): Promise<ApiTaskDetail> {
  const detail = await readTask(client, id, cursor.at);
  const fresh = detail.events.filter((e) => e.id > cursor.at);
  if (fresh.length) {
    o.onEvents(fresh);
    cursor.at = fresh[fresh.length - 1]!.id;
  }
  return detail;
}

/** Polls until the task is final; returns its last answer (events after the cursor only). */
export async function pollTask(client: ApiClient, id: number, o: WatchOptions): Promise<ApiTaskDetail> {
  const cursor = { at: o.after };
  for (;;) {
    const detail = await catchUp(client, id, cursor, o);
    if (isTaskFinal(detail.task.status)) return detail;
    await sleep(POLL_INTERVAL_MS);
  }
}

/** Reads one stream connection until the task is final (its last answer) or the stream ends (null). */
async function followOnce(client: ApiClient, id: number, cursor: { at: number }, o: WatchOptions): Promise<ApiTaskDetail | null> {
  const abort = new AbortController();
  const body = await client.openStream(`/api/stream/tasks/${id}?after=${cursor.at}`, `task ${id}`, abort.signal);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  try {
    for await (const chunk of body) {
      // One JSON read per chunk, however many events it completed.
      if (parser.push(decoder.decode(chunk, { stream: true })).length === 0) continue;
      const detail = await catchUp(client, id, cursor, o);
      if (isTaskFinal(detail.task.status)) return detail;
    }
    return null;
  } finally {
    abort.abort();
  }
}

/** Follows the task's stream until it is final; returns its last answer. */
export async function followTask(client: ApiClient, id: number, o: WatchOptions): Promise<ApiTaskDetail> {
  const cursor = { at: o.after };
  let failures = 0;
  for (;;) {
    let lastError: unknown = null;
    try {
      const done = await followOnce(client, id, cursor, o);
      if (done) return done;
      failures = 0;
    } catch (err) {
      // A refusal (401, 404) will not get better by asking again.
      if (err instanceof AirutError && err.code === 'API_REFUSED') throw err;
      lastError = err;
      failures++;
    }
    if (failures >= MAX_STREAM_RETRIES) {
      throw new AirutError('API_STREAM_FAILED', `lost the live stream of task ${id}: ${(lastError as Error).message}`, { cause: lastError });
    }
    // The stream ended (or failed) while the task runs: it may have finished in between.
    const detail = await catchUp(client, id, cursor, o).catch(() => null);
    if (detail && isTaskFinal(detail.task.status)) return detail;
    await sleep(POLL_INTERVAL_MS);
  }
}
