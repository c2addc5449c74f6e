/**
 * The task list's search and filters as they arrive in a URL (`q`, `sender`, `repo`, `status`,
 * `from`, `to`, `before`), read the same way by the page and by GET /api/tasks. Every malformed
 * value is a problem a person can act on, never a silently dropped filter: a search that ignored
 * half of what was asked would look like an answer.
 */
import { isTaskStatus, TASK_STATUSES } from '../store/dashboard-queries.ts';
import { searchWords, TaskSearchError, type TaskSearchQuery } from '../store/task-search.ts';
import type { TaskStatus } from '../store/task-queries.ts';
import { parseId } from './params.ts';

/** What the URL said, kept as typed (trimmed) so a form and the "older →" link can repeat it. */
export interface TaskFilterParams {
  readonly q?: string | undefined;
  readonly sender?: string | undefined;
  readonly repo?: string | undefined;
  readonly status?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

export interface TaskFilters {
  readonly params: TaskFilterParams;
  /** The store query, without limit; null when a problem makes it unusable. */
  readonly query: Omit<TaskSearchQuery, 'limit'> | null;
  /** What is wrong with the URL, one sentence each; empty when it is fine. */
  readonly problems: readonly string[];
  /** Words, sender or dates given: a search (its page is not live), not just the repo/status list. */
  readonly isSearch: boolean;
}

const DAY_MS = 86_400_000;
/** Longest sender filter accepted; an address is at most 254 characters. */
const MAX_SENDER_CHARS = 254;

/** Midnight UTC of a YYYY-MM-DD date that exists, or undefined. */
export function parseDay(v: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date.UTC rolls 2026-02-30 over to March; a date that does not round-trip does not exist.
  return new Date(ms).toISOString().slice(0, 10) === v ? ms : undefined;
}

function param(get: (name: string) => string | undefined, name: string): string | undefined {
  const v = get(name)?.trim();
  return v ? v : undefined;
}

function readWords(q: string | undefined, problems: string[]): string[] | undefined {
  if (q === undefined) return undefined;
  try {
    return searchWords(q);
  } catch (err) {
    if (err instanceof TaskSearchError) return (problems.push(`search: ${err.message}`), undefined);
    throw err;
  }
}

function readDates(p: TaskFilterParams, problems: string[]): { fromMs?: number; untilMs?: number } {
  const fromMs = p.from === undefined ? undefined : parseDay(p.from);
  const toMs = p.to === undefined ? undefined : parseDay(p.to);
  if (p.from !== undefined && fromMs === undefined) problems.push('from must be a real day written YYYY-MM-DD (UTC), e.g. 2026-01-31');
  if (p.to !== undefined && toMs === undefined) problems.push('to must be a real day written YYYY-MM-DD (UTC), e.g. 2026-01-31');
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) problems.push('from is after to, so no day is in the range; swap the dates');
  // `to` is inclusive: everything before the next midnight.
  return { ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { untilMs: toMs + DAY_MS } : {}) };
}

/** Reads the filters and the `before` cursor from a URL's query. */
export function readTaskFilters(get: (name: string) => string | undefined): TaskFilters & { readonly beforeId?: number | undefined } {
  const params: TaskFilterParams = {
    q: param(get, 'q'),
    sender: param(get, 'sender'),
    repo: param(get, 'repo'),
    status: param(get, 'status'),
    from: param(get, 'from'),
    to: param(get, 'to'),
  };
  const problems: string[] = [];
  const words = readWords(params.q, problems);
  if (params.sender !== undefined && params.sender.length > MAX_SENDER_CHARS) problems.push(`sender must be at most ${MAX_SENDER_CHARS} characters`);
  if (params.status !== undefined && !isTaskStatus(params.status)) problems.push(`unknown status; use one of ${TASK_STATUSES.join(', ')}`);
  const dates = readDates(params, problems);
  const beforeParam = get('before');
  const beforeId = parseId(beforeParam);
  if (beforeParam && beforeId === undefined) problems.push('before must be a task id (a positive integer)');
  const isSearch = params.q !== undefined || params.sender !== undefined || params.from !== undefined || params.to !== undefined;
  const query = problems.length
    ? null
    : { words, sender: params.sender, repoId: params.repo, status: params.status as TaskStatus | undefined, ...dates, beforeId };
  return { params, query, problems, isSearch, beforeId };
}
