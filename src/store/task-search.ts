/**
 * Searching the task list: words (the FTS5 table `task_search` over subjects and request texts,
 * migration 15), sender, repository, status and a creation-date range, newest first, paged by the
 * same id cursor as the plain list (dashboard-queries.ts) so tasks that arrive while someone pages
 * never shift the pages not yet seen.
 *
 * User input never reaches MATCH as syntax: it is cut into words by the same rule the tokenizer
 * uses (letters, digits, marks), and each word becomes a quoted prefix term, AND-ed. So `OR`,
 * `NEAR(`, `-`, `subject:`, `*` and stray quotes are plain text or separators, never operators.
 */
import type { Db } from './database.ts';
import { listTaskPage, repoIdsClause, type TaskPage } from './dashboard-queries.ts';
import { cachedStatement } from './statement-cache.ts';
import { TASK_COLUMNS, toTaskRow, type TaskStatus } from './task-queries.ts';

/** Longest search text accepted, in characters; more is refused rather than cut silently. */
export const MAX_SEARCH_CHARS = 500;
/** Most words in one search; each is an index lookup. */
export const MAX_SEARCH_WORDS = 16;

export type TaskSearchErrorCode = 'SEARCH_TOO_LONG' | 'SEARCH_TOO_MANY_WORDS' | 'SEARCH_NO_WORDS' | 'SEARCH_FAILED';

/** A search that cannot be run; the message says what to change. */
export class TaskSearchError extends Error {
  constructor(
    readonly code: TaskSearchErrorCode,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TaskSearchError';
  }
}

/** The unicode61 tokenizer's token characters are letters, numbers, marks and private-use ones; the rest separates. */
const SEPARATORS = /[^\p{L}\p{N}\p{M}\p{Co}]+/u;

/** The words of a search text; throws TaskSearchError when it is too long, has too many words or none. */
export function searchWords(text: string): string[] {
  if (text.length > MAX_SEARCH_CHARS) {
    throw new TaskSearchError('SEARCH_TOO_LONG', `the search is ${text.length} characters long; use at most ${MAX_SEARCH_CHARS}`);
  }
  const words = text.split(SEPARATORS).filter((w) => w.length > 0);
  if (words.length === 0) throw new TaskSearchError('SEARCH_NO_WORDS', 'the search has no words to look for (letters or digits)');
  if (words.length > MAX_SEARCH_WORDS) {
    throw new TaskSearchError('SEARCH_TOO_MANY_WORDS', `the search has ${words.length} words; use at most ${MAX_SEARCH_WORDS}`);
  }
  return words;
}

/** An FTS5 query: every word a quoted prefix term (`"word"*`), implicitly AND-ed. */
export function ftsQuery(words: readonly string[]): string {
  // Words hold no quote (searchWords splits on them); doubling is the FTS5 escape, kept as a second guard.
  return words.map((w) => `"${w.replaceAll('"', '""')}"*`).join(' ');
}

export interface TaskSearchQuery {
  /** Words from searchWords(); every one must occur (as a word prefix) in the subject or the request text. */
  readonly words?: readonly string[] | undefined;
  /** A substring of the sender's address, case-insensitive (a whole address matches itself). */
  readonly sender?: string | undefined;
  readonly repoId?: string | undefined;
  /** Only these repositories (an API token's scope); an empty list matches nothing. */
  readonly repoIds?: readonly string[] | undefined;
  readonly status?: TaskStatus | undefined;
  /** Created at or after this time (ms since the epoch). */
  readonly fromMs?: number | undefined;
  /** Created before this time (ms, exclusive). */
  readonly untilMs?: number | undefined;
  /** Only tasks with a smaller id (the cursor of the previous page). */
  readonly beforeId?: number | undefined;
  readonly limit: number;
}

function hasSearchTerms(q: TaskSearchQuery): boolean {
  return (q.words?.length ?? 0) > 0 || q.sender !== undefined || q.fromMs !== undefined || q.untilMs !== undefined;
}

/** The WHERE terms over tasks `t` shared by both plans, with their arguments in order. */
function taskFilters(q: TaskSearchQuery): { where: string[]; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.repoId !== undefined) (where.push('t.repo_id = ?'), args.push(q.repoId));
  if (q.repoIds !== undefined) (where.push(repoIdsClause('t.repo_id', q.repoIds)), args.push(...q.repoIds));
  if (q.status !== undefined) (where.push('t.status = ?'), args.push(q.status));
  // lower() on both sides: the same (ASCII) folding whatever the case the address arrived in.
  if (q.sender !== undefined) (where.push('instr(lower(t.sender), lower(?)) > 0'), args.push(q.sender));
  if (q.fromMs !== undefined) (where.push('t.created_at >= ?'), args.push(q.fromMs));
  if (q.untilMs !== undefined) (where.push('t.created_at < ?'), args.push(q.untilMs));
  return { where, args };
}

/** The SQL of one search page (exported for the query-plan test). */
export function searchSql(q: TaskSearchQuery): { sql: string; args: unknown[] } {
  const { where, args } = taskFilters(q);
  const limit = Math.min(Math.max(Math.floor(q.limit), 1), 200);
  const cols = TASK_COLUMNS.split(',').map((c) => `t.${c.trim()}`).join(', ');
  if (q.words?.length) {
    // The index drives, newest match first (FTS5 walks its rowids backwards and honours rowid < ?);
    // CROSS JOIN keeps SQLite from putting tasks outside and running MATCH once per task.
    const head = [`task_search MATCH ?`, ...(q.beforeId !== undefined ? ['s.rowid < ?'] : [])];
    const headArgs: unknown[] = [ftsQuery(q.words), ...(q.beforeId !== undefined ? [q.beforeId] : [])];
    return {
      sql: `SELECT ${cols} FROM task_search s CROSS JOIN tasks t ON t.id = s.rowid
             WHERE ${[...head, ...where].join(' AND ')} ORDER BY s.rowid DESC LIMIT ?`,
      args: [...headArgs, ...args, limit + 1],
    };
  }
  if (q.beforeId !== undefined) (where.push('t.id < ?'), args.push(q.beforeId));
  // Walking tasks newest first and testing each row stops after one page of matches; no index on
  // a substring or on created_at would keep that order.
  return {
    sql: `SELECT ${cols} FROM tasks t ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY t.id DESC LIMIT ?`,
    args: [...args, limit + 1],
  };
}

/**
 * One page of tasks matching a search, newest first; a plain repo/status page goes through
 * listTaskPage (its index choices). Throws TaskSearchError when SQLite refuses the query.
 */
export function searchTaskPage(db: Db, q: TaskSearchQuery): TaskPage {
  if (!hasSearchTerms(q)) return listTaskPage(db, q);
  const limit = Math.min(Math.max(Math.floor(q.limit), 1), 200);
  const { sql, args } = searchSql(q);
  let rows: Array<Record<string, unknown>>;
  try {
    rows = cachedStatement(db, sql).all(...args) as Array<Record<string, unknown>>;
  } catch (err) {
    // Not expected (the query is built from words only), but a refused MATCH must read as a search problem, not a crash.
    if (err instanceof Error && /fts5|MATCH/i.test(err.message)) {
      throw new TaskSearchError('SEARCH_FAILED', 'the search could not be run; try other words', { cause: err });
    }
    throw err;
  }
  const tasks = rows.slice(0, limit).map(toTaskRow);
  return { tasks, nextBefore: rows.length > limit && tasks.length ? tasks[tasks.length - 1]!.id : null };
}
