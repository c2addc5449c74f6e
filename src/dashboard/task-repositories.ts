/**
 * Every repository of a task, for its page and `GET /api/tasks/:id` / the conversation JSON
 * (docs/multi-repo.md): the conversation's recorded set, or the task's own repository alone
 * (a single-repository task, or one that has not started yet or whose companions were refused).
 */
import type { Db } from '../store/database.ts';
import { listConversationRepos, type ConversationRepo } from '../store/conversation-repos.ts';
import { h, type SafeHtml } from './html.ts';

export function taskRepositories(db: Db, repoId: string, conversationId: string | null): ConversationRepo[] {
  const kept = conversationId === null ? [] : listConversationRepos(db, repoId, conversationId);
  return kept.length > 0 ? kept : [{ name: repoId, access: 'write', branch: null, primary: true }];
}

/** One line under the task's summary, only when it has companions. */
export function repositoriesLine(repos: readonly ConversationRepo[]): SafeHtml {
  if (repos.length < 2) return h``;
  return h`<p class="task-repositories" data-role="repositories">Repositories: ${repos.map(
    (r, i) => h`${i > 0 ? ', ' : ''}<span class="repository" data-name="${r.name}" data-access="${r.access}">${r.primary ? `${r.name} (primary, /workspace)` : `${r.name} (${r.access}, /repos/${r.name}${r.branch ? `, branch ${r.branch}` : ''})`}</span>`,
  )}</p>`;
}
