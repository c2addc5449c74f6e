/**
 * Follow-ups handled by another task of their conversation (status `merged`, `merged_into` the
 * handler). Airut semantics (per-conversation serialization): the mails that queued up while the
 * conversation was busy become ONE next task. When a conversation's task is claimed, every other
 * queued mail of that conversation is coalesced into it in the claim's transaction; a conversation
 * whose last run was `paused` (transient API failures outlasted the retries) is resumed by the
 * first mail that arrives, which is coalesced into the paused task. Every mail keeps its own row.
 */
import { writeTransaction, type Db } from './database.ts';
import { conversationRecord } from './conversations.ts';
import { transitionTask } from './task-transitions.ts';

/** The first of a mail's thread references that this repo knows and has not archived; null when none. */
export function knownConversation(db: Db, repoId: string, threadRefsJson: string): string | null {
  // An archived conversation's files are gone: a reply starts anew (see conversation-gc.ts).
  return safeRefs(threadRefsJson).find((id) => conversationRecord(db, repoId, id) === 'live') ?? null;
}

function safeRefs(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && /^[0-9a-f]{8}$/.test(x)) : [];
  } catch {
    return [];
  }
}

/**
 * The conversation's paused task, moved `paused → queued` so the caller claims it in the same
 * transaction; null when the conversation's latest run is not paused. Only the latest run counts:
 * a task paused before a later one ran stays as it is.
 */
export function reopenPausedTask(db: Db, repoId: string, conversationId: string, now: number): { id: number; attempts: number } | null {
  const latest = db
    .prepare(
      `SELECT id, status, attempts FROM tasks WHERE repo_id = ? AND conversation_id = ? AND status NOT IN ('queued', 'merged', 'rejected')
       ORDER BY id DESC LIMIT 1`,
    )
    .get(repoId, conversationId) as { id: number; status: string; attempts: number } | undefined;
  if (!latest || latest.status !== 'paused') return null;
  const r = transitionTask(db, latest.id, { status: 'paused', attempt: latest.attempts }, { to: 'queued' }, now);
  return r.applied ? { id: latest.id, attempts: latest.attempts } : null;
}

/**
 * Moves every other queued mail of the conversation (resolved already, or resolving to it through
 * its thread references) `queued → merged` into `handlerId`. Call in the claim's transaction.
 * Returns the merged task ids, oldest first.
 */
export function coalesceQueued(db: Db, repoId: string, conversationId: string, handlerId: number, now: number): number[] {
  const rows = db
    .prepare(`SELECT id, conversation_id, thread_refs, attempts FROM tasks WHERE repo_id = ? AND status = 'queued' AND id <> ? ORDER BY id`)
    .all(repoId, handlerId) as Array<{ id: number; conversation_id: string | null; thread_refs: string; attempts: number }>;
  const merged: number[] = [];
  for (const r of rows) {
    const conv = r.conversation_id ?? knownConversation(db, repoId, r.thread_refs);
    if (conv !== conversationId) continue;
    const change = { to: 'merged', mergedInto: handlerId, mergeKind: 'coalesced', conversationId } as const;
    if (transitionTask(db, r.id, { status: 'queued', attempt: r.attempts }, change, now).applied) merged.push(r.id);
  }
  return merged;
}

/** A mail handled by another task. */
export interface MergedTask {
  readonly id: number;
  readonly kind: 'live' | 'coalesced';
  readonly sender: string | null;
  readonly createdAt: number;
  /** When it was merged. */
  readonly mergedAt: number;
}

/**
 * The mails merged into a task, oldest first; with `since`, only those merged at or after it (a
 * run's own claim merges at its `started_at`; earlier ones were in an earlier run's prompt).
 */
export function mergedInto(db: Db, handlerId: number, opts: { kind?: 'live' | 'coalesced'; since?: number } = {}): MergedTask[] {
  const rows = db
    .prepare(
      `SELECT id, merge_kind, sender, created_at, finished_at FROM tasks
       WHERE merged_into = ? AND status = 'merged' AND (@kind IS NULL OR merge_kind = @kind) AND finished_at >= @since ORDER BY id`,
    )
    .all(handlerId, { kind: opts.kind ?? null, since: opts.since ?? 0 }) as Array<{
    id: number;
    merge_kind: 'live' | 'coalesced';
    sender: string | null;
    created_at: number;
    finished_at: number;
  }>;
  return rows.map((r) => ({ id: r.id, kind: r.merge_kind, sender: r.sender, createdAt: r.created_at, mergedAt: r.finished_at }));
}

/** The handler of a merged mail, or null. */
export function mergeOf(db: Db, taskId: number): { into: number; kind: 'live' | 'coalesced' } | null {
  const r = db.prepare(`SELECT merged_into, merge_kind FROM tasks WHERE id = ? AND status = 'merged'`).get(taskId) as
    | { merged_into: number | null; merge_kind: 'live' | 'coalesced' | null }
    | undefined;
  return r && r.merged_into !== null && r.merge_kind ? { into: r.merged_into, kind: r.merge_kind } : null;
}

/** A running task of this process and its conversation. */
export interface RunningConversation {
  readonly taskId: number;
  readonly repoId: string;
  readonly conversationId: string;
}

/**
 * The queued mails that belong to (resolve to) the conversation of one of `running`, oldest
 * first, each with the running task that could take it live. Read-only: resolving a mail's
 * conversation is left to the claim.
 */
export function queuedFollowUpsOf(db: Db, running: readonly RunningConversation[]): Array<{ taskId: number; runningTaskId: number }> {
  if (!running.length) return [];
  const byConv = new Map(running.map((r) => [`${r.repoId}\u0000${r.conversationId}`, r.taskId]));
  const rows = db
    .prepare(
      // A mail without a conversation or thread references starts a new conversation and is never
      // a follow-up: left out in SQL, so a backlog of new mails (the dispatcher asks on every
      // kick) costs nothing and cannot push a real follow-up past the limit.
      `SELECT id, repo_id, conversation_id, thread_refs FROM tasks
       WHERE status = 'queued' AND repo_id IN (SELECT value FROM json_each(?))
         AND (conversation_id IS NOT NULL OR thread_refs <> '[]')
       ORDER BY id LIMIT 500`,
    )
    .all(JSON.stringify([...new Set(running.map((r) => r.repoId))])) as Array<{ id: number; repo_id: string; conversation_id: string | null; thread_refs: string }>;
  const out: Array<{ taskId: number; runningTaskId: number }> = [];
  for (const r of rows) {
    const conv = r.conversation_id ?? knownConversation(db, r.repo_id, r.thread_refs);
    const runningTaskId = conv ? byConv.get(`${r.repo_id}\u0000${conv}`) : undefined;
    if (runningTaskId !== undefined) out.push({ taskId: r.id, runningTaskId });
  }
  return out;
}

/**
 * A follow-up delivered live into the running session of `handlerId`: `queued → merged` (live).
 * False when the mail is no longer queued in the attempt read (claimed, cancelled, merged).
 */
export function mergeLive(db: Db, taskId: number, attempt: number, handlerId: number, conversationId: string, now: number = Date.now()): boolean {
  return writeTransaction(db, () =>
    transitionTask(db, taskId, { status: 'queued', attempt }, { to: 'merged', mergedInto: handlerId, mergeKind: 'live', conversationId }, now).applied,
  );
}
