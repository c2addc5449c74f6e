/**
 * What a task was asked and what it sent, kept for people reading the dashboard: the request text
 * (as the agent received it, and the whole text body) and the files of the mail and of the reply.
 * The reply's own text is `outgoing_mail.body_markdown` (outgoing-mail.ts). The search index over
 * subjects and request texts (`task_search`) follows these rows through triggers (migration 15).
 */
import type { Db } from './database.ts';

export interface TaskRequest {
  /** The text as the agent received it: quoted history stripped (src/email/body-text.ts). */
  readonly text: string;
  /** The whole text body as it arrived, quotes included (the "original" toggle). */
  readonly original: string;
}

/** Records (or replaces) a task's request text; the search index follows. */
export function saveTaskRequest(db: Db, taskId: number, r: TaskRequest): void {
  db.prepare(
    `INSERT INTO task_requests (task_id, text, original) VALUES (?, ?, ?)
     ON CONFLICT (task_id) DO UPDATE SET text = excluded.text, original = excluded.original`,
  ).run(taskId, r.text, r.original);
}

export function getTaskRequest(db: Db, taskId: number): TaskRequest | null {
  const row = db.prepare(`SELECT text, original FROM task_requests WHERE task_id = ?`).get(taskId) as TaskRequest | undefined;
  return row ?? null;
}

/** The request texts of the given tasks (those recorded), by task id. */
export function getTaskRequests(db: Db, taskIds: readonly number[]): Map<number, TaskRequest> {
  const out = new Map<number, TaskRequest>();
  if (taskIds.length === 0) return out;
  const rows = db
    .prepare(`SELECT task_id AS taskId, text, original FROM task_requests WHERE task_id IN (SELECT value FROM json_each(?))`)
    .all(JSON.stringify(taskIds)) as Array<TaskRequest & { taskId: number }>;
  for (const r of rows) out.set(r.taskId, { text: r.text, original: r.original });
  return out;
}

/**
 * Records a request read from the stored mail unless one is recorded already (the runner's row
 * wins: it is what the agent read), and returns the row as stored.
 */
export function fillTaskRequest(db: Db, taskId: number, r: TaskRequest): TaskRequest {
  db.prepare(`INSERT INTO task_requests (task_id, text, original) VALUES (?, ?, ?) ON CONFLICT (task_id) DO NOTHING`).run(taskId, r.text, r.original);
  return getTaskRequest(db, taskId) ?? r;
}

/** Where a missing request can be read from: a task whose raw message is stored whole. */
export interface RequestSource {
  readonly taskId: number;
  /** The stored raw message's size in bytes, so a caller can bound its work before reading it. */
  readonly size: number;
}

/**
 * Of the given tasks, those without a request row whose mail is stored whole with its bytes still
 * there (rejected mail keeps headers only; retention may have emptied an old one), in the order given.
 */
export function tasksMissingRequest(db: Db, taskIds: readonly number[]): RequestSource[] {
  if (taskIds.length === 0) return [];
  const rows = db
    .prepare(
      `SELECT t.id AS taskId, length(m.raw) AS size
         FROM tasks t JOIN messages m ON m.id = t.message_row
        WHERE t.id IN (SELECT value FROM json_each(?))
          AND m.stored = 'whole' AND length(m.raw) > 0
          AND NOT EXISTS (SELECT 1 FROM task_requests r WHERE r.task_id = t.id)`,
    )
    .all(JSON.stringify(taskIds)) as RequestSource[];
  const order = new Map(taskIds.map((id, i) => [id, i]));
  return rows.sort((a, b) => (order.get(a.taskId) ?? 0) - (order.get(b.taskId) ?? 0));
}

export type TaskFileDirection = 'in' | 'out';

export interface NewTaskFile {
  readonly taskId: number;
  /** 'in': an attachment of the task's mail; 'out': an outbox file sent with its reply. */
  readonly direction: TaskFileDirection;
  /** The name as sent (in) or as attached (out); shown, never used as a path. */
  readonly name: string;
  readonly size: number;
  /** The declared type; the download route serves only a safe subset of types as such. */
  readonly contentType: string;
  /** Relative to the repository's storage directory; null when the file was not kept. */
  readonly path: string | null;
  readonly sha256: string | null;
  /** Why the file was not kept (over the size cap…); null when it was. */
  readonly note: string | null;
}

export interface TaskFile extends NewTaskFile {
  readonly id: number;
  readonly createdAt: number;
}

interface FileRow {
  id: number;
  task_id: number;
  direction: TaskFileDirection;
  name: string;
  size: number;
  content_type: string;
  path: string | null;
  sha256: string | null;
  note: string | null;
  created_at: number;
}

function toFile(r: FileRow): TaskFile {
  return {
    id: r.id,
    taskId: r.task_id,
    direction: r.direction,
    name: r.name,
    size: r.size,
    contentType: r.content_type,
    path: r.path,
    sha256: r.sha256,
    note: r.note,
    createdAt: r.created_at,
  };
}

export function addTaskFile(db: Db, f: NewTaskFile, now: number = Date.now()): number {
  const info = db
    .prepare(
      `INSERT INTO task_files (task_id, direction, name, size, content_type, path, sha256, note, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(f.taskId, f.direction, f.name, f.size, f.contentType, f.path, f.sha256, f.note, now);
  return Number(info.lastInsertRowid);
}

/** A task's files, in the order they were recorded. */
export function listTaskFiles(db: Db, taskId: number): TaskFile[] {
  return (db.prepare(`SELECT * FROM task_files WHERE task_id = ? ORDER BY id`).all(taskId) as FileRow[]).map(toFile);
}

/** One file of one task; null when the id is not that task's. */
export function getTaskFile(db: Db, taskId: number, fileId: number): TaskFile | null {
  const row = db.prepare(`SELECT * FROM task_files WHERE id = ? AND task_id = ?`).get(fileId, taskId) as FileRow | undefined;
  return row ? toFile(row) : null;
}

/** Every file of a conversation's tasks, by task, in order. */
export function listConversationFiles(db: Db, repoId: string, conversationId: string): Map<number, TaskFile[]> {
  const rows = db
    .prepare(
      `SELECT f.* FROM task_files f JOIN tasks t ON t.id = f.task_id
       WHERE t.repo_id = ? AND t.conversation_id = ? ORDER BY f.id`,
    )
    .all(repoId, conversationId) as FileRow[];
  const out = new Map<number, TaskFile[]>();
  for (const r of rows) {
    const list = out.get(r.task_id) ?? [];
    list.push(toFile(r));
    out.set(r.task_id, list);
  }
  return out;
}

// The kept copies' bookkeeping (src/task-files/keep.ts writes the copies; conversation GC forgets them).

/** Bytes of the task's files that are kept (not those recorded as not kept). */
export function keptFileBytes(db: Db, taskId: number): number {
  const row = db.prepare(`SELECT COALESCE(sum(size), 0) AS n FROM task_files WHERE task_id = ? AND path IS NOT NULL`).get(taskId) as {
    n: number;
  };
  return row.n;
}

/** Whether the task has files of that direction recorded, kept or not. */
export function hasTaskFiles(db: Db, taskId: number, direction: TaskFileDirection): boolean {
  return db.prepare(`SELECT 1 FROM task_files WHERE task_id = ? AND direction = ? LIMIT 1`).get(taskId, direction) !== undefined;
}

/** What an archived conversation's kept files say instead of a path. */
export const DELETED_WITH_CONVERSATION = 'deleted with the conversation';

/**
 * Marks the kept files of a conversation's tasks as not kept any more (their copies go with the
 * conversation's directory). Returns how many rows changed.
 */
export function forgetConversationFiles(db: Db, repoId: string, conversationId: string): number {
  return db
    .prepare(
      `UPDATE task_files SET path = NULL, note = ?
        WHERE path IS NOT NULL AND task_id IN (SELECT id FROM tasks WHERE repo_id = ? AND conversation_id = ?)`,
    )
    .run(DELETED_WITH_CONVERSATION, repoId, conversationId).changes;
}
