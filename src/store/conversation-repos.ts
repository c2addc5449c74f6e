/**
 * The repositories of a conversation (`conversation_repos`): the primary (at /workspace) and the
 * companions mounted at /repos/<name>, written once at the conversation's first task and kept by
 * its follow-ups; and what a task asked for (`tasks.requested_repos`), recorded with the task.
 */
import type { RepoAccess, RequestedRepo } from '../protocol/requested-repos.ts';
import { writeTransaction, type Db } from './database.ts';

export interface ConversationRepo {
  /** The repository id; the mount name of a companion. */
  readonly name: string;
  readonly access: RepoAccess;
  /** null: the repository's default branch. */
  readonly branch: string | null;
  readonly primary: boolean;
}

/** The requested companions as stored on a task row (null when none were asked for). */
export function requestedReposColumn(repos: readonly RequestedRepo[] | undefined): string | null {
  return repos && repos.length > 0 ? JSON.stringify(repos) : null;
}

/** What the task asked for; [] for none. */
export function taskRequestedRepos(db: Db, taskId: number): RequestedRepo[] {
  const row = db.prepare(`SELECT requested_repos FROM tasks WHERE id = ?`).get(taskId) as { requested_repos: string | null } | undefined;
  if (!row?.requested_repos) return [];
  const parsed: unknown = JSON.parse(row.requested_repos);
  return Array.isArray(parsed) ? (parsed as RequestedRepo[]) : [];
}

/** Replaces the conversation's set (a re-run of its first task writes the same rows again). */
export function saveConversationRepos(db: Db, repoId: string, conversationId: string, repos: readonly ConversationRepo[]): void {
  writeTransaction(db, () => {
    db.prepare(`DELETE FROM conversation_repos WHERE repo_id = ? AND conversation_id = ?`).run(repoId, conversationId);
    const insert = db.prepare(
      `INSERT INTO conversation_repos (repo_id, conversation_id, name, access, branch, is_primary) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    for (const r of repos) insert.run(repoId, conversationId, r.name, r.access, r.branch, r.primary ? 1 : 0);
  });
}

/** The conversation's set, primary first; [] when none was recorded (a single-repository conversation). */
export function listConversationRepos(db: Db, repoId: string, conversationId: string): ConversationRepo[] {
  const rows = db
    .prepare(
      `SELECT name, access, branch, is_primary FROM conversation_repos WHERE repo_id = ? AND conversation_id = ?
       ORDER BY is_primary DESC, name`,
    )
    .all(repoId, conversationId) as { name: string; access: RepoAccess; branch: string | null; is_primary: number }[];
  return rows.map((r) => ({ name: r.name, access: r.access, branch: r.branch, primary: r.is_primary === 1 }));
}
