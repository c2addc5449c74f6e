/**
 * The request texts the dashboard shows (what each task was asked): the rows the runner recorded
 * (task_requests), and for a task without one (queued, never run, or run before migration 15)
 * its stored mail parsed now and the row saved, so it shows its text from then on and the search
 * index finds it. Rejected mail (headers only) and mail emptied by retention have no text to show.
 *
 * Parsing is the costly part (MIME, HTML to text), so one call parses at most
 * REQUEST_PARSES_PER_CALL mails and REQUEST_PARSE_BYTES_PER_CALL bytes of them: a page of old tasks
 * fills in over a few views instead of one view parsing hundreds of large mails. The first mail
 * of a call is parsed whatever its size, so no mail is left out for ever.
 */
import { parseMessage, requestTexts } from '../email/parse.ts';
import type { Db } from '../store/database.ts';
import { fillTaskRequest, getTaskRequests, tasksMissingRequest, type TaskRequest } from '../store/task-content.ts';
import { getTaskRawMessage, type TaskRow } from '../store/task-queries.ts';

/** Mails parsed per call at most; the rest stay missing until the next call. */
export const REQUEST_PARSES_PER_CALL = 10;
/**
 * Bytes of stored mail parsed per call at most (beyond the first mail). The parse runs on the
 * dashboard's thread, the daemon's main one: a 1.4 MB HTML-only mail takes about a second there.
 * Ordinary mail is a few kB, so this still fills a page of them in one view.
 */
export const REQUEST_PARSE_BYTES_PER_CALL = 1024 * 1024;

/** The request texts of these tasks, by task id; a task without one (yet) is not in the map. */
export async function taskRequests(db: Db, tasks: readonly TaskRow[]): Promise<Map<number, TaskRequest>> {
  const ids = tasks.map((t) => t.id);
  const found = getTaskRequests(db, ids);
  let bytes = 0;
  let parsed = 0;
  for (const source of tasksMissingRequest(db, ids.filter((id) => !found.has(id)))) {
    if (parsed === REQUEST_PARSES_PER_CALL) break;
    if (parsed > 0 && bytes + source.size > REQUEST_PARSE_BYTES_PER_CALL) break;
    const raw = getTaskRawMessage(db, source.taskId);
    if (!raw || raw.byteLength === 0) continue;
    parsed += 1;
    bytes += raw.byteLength;
    // The runner may record it while this mail is parsed; its row wins (see fillTaskRequest).
    found.set(source.taskId, fillTaskRequest(db, source.taskId, requestTexts(await parseMessage(raw))));
  }
  return found;
}
