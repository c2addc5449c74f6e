/**
 * The network log of the sandbox proxy: one row per request a task's container made, allowed or
 * blocked. Written in batches by the task runner (see src/sandbox/task-network.ts), read by the
 * dashboard's conversation page.
 */
import type { NetworkLogEntry } from '../proxy/conversation-proxy.ts';
import { pushRepoPath } from '../proxy/git-push.ts';
import type { Db } from './database.ts';
import { writeTransaction } from './database.ts';

export interface NetworkRequestRow extends NetworkLogEntry {
  readonly id: number;
  readonly repoId: string;
  readonly conversationId: string;
  readonly taskId: number;
}

const MAX_TEXT = 2000;

/** Appends entries in one transaction; returns the id of the last row. */
export function insertNetworkRequests(
  db: Db,
  scope: { repoId: string; conversationId: string; taskId: number },
  entries: readonly NetworkLogEntry[],
): number {
  if (entries.length === 0) return 0;
  let last = 0;
  writeTransaction(db, () => {
    const stmt = db.prepare(
      `INSERT INTO network_requests
         (repo_id, conversation_id, task_id, at, method, host, port, path, status, allowed, rule, masked, stripped, duration_ms, error, pushed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const e of entries) {
      last = Number(
        stmt.run(
          scope.repoId,
          scope.conversationId,
          scope.taskId,
          e.at,
          e.method.slice(0, 32),
          e.host.slice(0, 255),
          e.port,
          e.path.slice(0, MAX_TEXT),
          e.status,
          e.allowed ? 1 : 0,
          e.rule.slice(0, MAX_TEXT),
          e.masked,
          e.stripped ?? 0,
          e.durationMs,
          e.error?.slice(0, MAX_TEXT) ?? null,
          e.pushed?.length ? JSON.stringify(e.pushed.map((r) => r.slice(0, MAX_TEXT))) : null,
        ).lastInsertRowid,
      );
    }
  });
  return last;
}

function toRow(r: Record<string, unknown>): NetworkRequestRow {
  return {
    id: r.id as number,
    repoId: r.repo_id as string,
    conversationId: r.conversation_id as string,
    taskId: r.task_id as number,
    at: r.at as number,
    method: r.method as string,
    host: r.host as string,
    port: r.port as number,
    path: r.path as string,
    status: r.status as number,
    allowed: r.allowed === 1,
    rule: r.rule as string,
    masked: r.masked as number,
    ...((r.stripped as number) > 0 ? { stripped: r.stripped as number } : {}),
    durationMs: r.duration_ms as number,
    ...(r.error ? { error: r.error as string } : {}),
    ...(r.pushed ? { pushed: parsePushed(r.pushed as string) } : {}),
  };
}

function parsePushed(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** A repository a task pushed to, and the refs the upstream accepted, in the order they were pushed. */
export interface TaskPush {
  readonly host: string;
  /** The repository's path on the host, e.g. `/owner/repo.git`. */
  readonly repoPath: string;
  readonly refs: readonly string[];
}

/** The accepted pushes of one task (every run of it), one entry per host and repository. */
export function listTaskPushes(db: Db, taskId: number): TaskPush[] {
  const rows = db
    .prepare(`SELECT host, port, path, pushed FROM network_requests WHERE task_id = ? AND pushed IS NOT NULL ORDER BY id`)
    .all(taskId) as Array<{ host: string; port: number; path: string; pushed: string }>;
  const byRepo = new Map<string, { host: string; repoPath: string; refs: Set<string> }>();
  for (const r of rows) {
    const host = r.port === 443 || r.port === 80 ? r.host : `${r.host}:${r.port}`;
    const repoPath = pushRepoPath(r.path);
    const key = `${host}\0${repoPath}`;
    const entry = byRepo.get(key) ?? { host, repoPath, refs: new Set<string>() };
    for (const ref of parsePushed(r.pushed)) entry.refs.add(ref);
    byRepo.set(key, entry);
  }
  return [...byRepo.values()].filter((e) => e.refs.size > 0).map((e) => ({ host: e.host, repoPath: e.repoPath, refs: [...e.refs] }));
}

/** A conversation's requests after `afterId`, oldest first. */
export function listNetworkRequests(db: Db, repoId: string, conversationId: string, afterId = 0, limit = 1000): NetworkRequestRow[] {
  return (
    db
      .prepare(
        `SELECT * FROM network_requests WHERE repo_id = ? AND conversation_id = ? AND id > ? ORDER BY id LIMIT ?`,
      )
      .all(repoId, conversationId, afterId, limit) as Record<string, unknown>[]
  ).map(toRow);
}

/**
 * A conversation's newest `limit` requests, newest first (the dashboard's first screen), and
 * whether older ones exist. One backwards walk of the conversation index, however long the log.
 */
export function listLatestNetworkRequests(
  db: Db,
  repoId: string,
  conversationId: string,
  limit: number,
): { rows: NetworkRequestRow[]; more: boolean } {
  const rows = (
    db
      .prepare(`SELECT * FROM network_requests WHERE repo_id = ? AND conversation_id = ? ORDER BY id DESC LIMIT ?`)
      .all(repoId, conversationId, limit + 1) as Record<string, unknown>[]
  ).map(toRow);
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

/**
 * Where to resume so that at most `keep` rows follow: `afterId` itself when no more than `keep`
 * rows come after it, else the id just before the newest `keep`. Lets a live view that fell far
 * behind skip ahead instead of replaying the whole log.
 */
export function networkCursorKeepingNewest(db: Db, repoId: string, conversationId: string, afterId: number, keep: number): number {
  const r = db
    .prepare(
      `SELECT id FROM network_requests WHERE repo_id = ? AND conversation_id = ? AND id > ? ORDER BY id DESC LIMIT 1 OFFSET ?`,
    )
    .get(repoId, conversationId, afterId, keep) as { id: number } | undefined;
  return r ? r.id : afterId;
}

/** One task's requests, oldest first. */
export function listTaskNetworkRequests(db: Db, taskId: number, afterId = 0, limit = 1000): NetworkRequestRow[] {
  return (
    db.prepare(`SELECT * FROM network_requests WHERE task_id = ? AND id > ? ORDER BY id LIMIT ?`).all(taskId, afterId, limit) as Record<string, unknown>[]
  ).map(toRow);
}
