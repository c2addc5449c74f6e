/**
 * The checks of a task API request that depend on the daemon: which repositories exist and this
 * request may see (else 404, worded as for one that does not exist), whether it may submit (403:
 * it sees the repository already, so saying so leaks nothing), and the repository's own limits on
 * model, budget, reply address and message size.
 */
import type { RepoServerConfig, ServerConfig } from '../config/types.ts';
import { isAuthorizedSender } from '../email/authorize.ts';
import { checkMessageLimits, type LimitViolation } from '../limits/message-limits.ts';
import type { RequestedRepo } from '../protocol/requested-repos.ts';
import { chooseModel, MODEL_ALIASES } from '../runner/model.ts';
import { scopeSees, type AccessScope } from './access-scope.ts';
import { DashboardError } from './http-error.ts';
import type { ApiAttachment, RepoChoice } from './submit-request.ts';

export const NO_SUCH_REPOSITORY = 'no such repository';
export const READ_ONLY_TOKEN = 'this token may only read';

/** The repository, when it is configured and in the request's scope; else 404. */
export function visibleRepo(config: ServerConfig, scope: AccessScope, repoId: string): RepoServerConfig {
  const repo = Object.hasOwn(config.repos, repoId) ? config.repos[repoId] : undefined;
  if (!repo || !scopeSees(scope, repoId)) throw new DashboardError(404, NO_SUCH_REPOSITORY);
  return repo;
}

/** The primary repository a task may be submitted to, and its companions as the runner is asked for them. */
export function submittableRepos(
  config: ServerConfig,
  scope: AccessScope,
  primary: RepoChoice,
  companions: readonly RepoChoice[],
): { repo: RepoServerConfig; requestedRepos: RequestedRepo[] } {
  const repo = visibleRepo(config, scope, primary.repo);
  for (const c of companions) visibleRepo(config, scope, c.repo);
  if (!scope.submit) throw new DashboardError(403, READ_ONLY_TOKEN);
  // Refused here, not only by the runner, so a script hears it at once instead of from a failed task.
  for (const c of companions) {
    const granted = Object.hasOwn(repo.companions, c.repo) ? repo.companions[c.repo] : undefined;
    if (granted === undefined) {
      const allowed = Object.entries(repo.companions).map(([n, a]) => `${n} (${a})`).join(', ');
      throw new DashboardError(400, `repositories: ${c.repo} is not a companion of ${primary.repo}; ${allowed ? `it allows: ${allowed}` : 'it allows no companion repositories'}`);
    }
    if (c.access === 'write' && granted === 'read') throw new DashboardError(400, `repositories: ${primary.repo} grants ${c.repo} read access only`);
  }
  if (primary.branch !== null) throw new DashboardError(400, `repositories: the primary repository (${primary.repo}) works on its own branch; give a branch only for the others`);
  const requestedRepos = companions.map((c) => ({
    name: c.repo,
    ...(c.branch !== null ? { branch: c.branch } : {}),
    ...(c.access !== null ? { access: c.access } : {}),
  }));
  return { repo, requestedRepos };
}

/** `model`: an alias (opus, sonnet, haiku) or a model id of `claude.allowed_models`. */
export function checkModel(config: ServerConfig, model: string | null): void {
  if (model === null) return;
  if (chooseModel(model, '', config.global.claude.allowedModels).ignoredHint !== null) {
    throw new DashboardError(400, `model: ${model} is neither an alias (${MODEL_ALIASES.join(', ')}) nor a model this daemon allows (claude.allowed_models)`);
  }
}

/** `budget_usd`: at most the repository's `budget.task_usd` (a repository's own file may lower it further at run time). */
export function checkBudget(repo: RepoServerConfig, budgetUsd: number | null): void {
  const limit = repo.budget.taskUsd;
  if (budgetUsd !== null && limit !== null && budgetUsd > limit) {
    throw new DashboardError(400, `budget_usd: ${budgetUsd} is over the repository's budget per task (${limit})`);
  }
}

// One bare address, nothing a header could be made of: no display name, brackets, commas or spaces.
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** `reply_to`: a bare address the repository's `authorized_senders` admits; returned lower-cased. */
export function checkReplyTo(repo: RepoServerConfig, replyTo: string | null): string | null {
  if (replyTo === null) return null;
  if (!ADDRESS.test(replyTo)) throw new DashboardError(400, 'reply_to must be one bare mail address (name@example.com)');
  if (!isAuthorizedSender(replyTo, repo.authorizedSenders)) {
    throw new DashboardError(400, `reply_to: ${replyTo} is not an authorized sender of repository ${repo.repoId}`);
  }
  return replyTo.toLowerCase();
}

function describeViolation(v: LimitViolation): string {
  switch (v.limit) {
    case 'max_message_bytes':
      return `the task's message is ${v.actual} bytes; the repository's limits.max_message_bytes is ${v.allowed}`;
    case 'max_attachments':
      return `attachments: ${v.actual} files; the repository's limits.max_attachments is ${v.allowed}`;
    case 'max_attachment_bytes':
      return `attachments: ${v.filename ?? 'a file'} is ${v.actual} bytes; the repository's limits.max_attachment_bytes is ${v.allowed}`;
    case 'mime_parts':
    case 'mime_header_bytes':
      return `the task's message is over the MIME reader's bound (${v.limit}: ${v.allowed})`;
  }
}

/** The repository's mail limits, applied to the synthetic mail as to any mail: 413 when over. */
export function checkSize(repo: RepoServerConfig, rawBytes: number, attachments: readonly ApiAttachment[]): void {
  const facts = { size: rawBytes, headersOnly: false, attachments: attachments.map((a) => ({ filename: a.name, size: a.content.length, inline: false })) };
  const v = checkMessageLimits(facts, repo.limits);
  if (v) throw new DashboardError(413, describeViolation(v));
}
