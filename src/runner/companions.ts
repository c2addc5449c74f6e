/**
 * The companion repositories of a task's run (docs/multi-repo.md): which ones (the first task
 * asks and is checked, companion-access.ts; a follow-up keeps its conversation's set), each
 * mirror updated, and what they add to the run: their allowlists (the union with the primary's)
 * and, for a `write` companion only, their credentials (masked secrets and GitHub App credentials
 * stay scoped to their own hosts; the primary's win a name both use). A companion's
 * signing_credentials are not carried over. The clones themselves are made with the conversation
 * (cloneCompanions), mounted by the agent stage.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RepoServerConfig } from '../config/types.ts';
import type { Allowlist } from '../proxy/allowlist.ts';
import type { MaskRule } from '../proxy/masked-secrets.ts';
import type { RepoMount } from '../sandbox/execution-backend.ts';
import type { RequestedRepo } from '../protocol/requested-repos.ts';
import type { ConversationRepo } from '../store/conversation-repos.ts';
import { recheckCompanions, resolveCompanions } from './companion-access.ts';
import { readAllowlist } from './read-allowlist.ts';
import type { RepoMirror, TaskContext } from './task-context.ts';
import { taskCredentials } from './task-credentials.ts';
import { UserFacingError } from './user-facing-error.ts';

/** Where companions are mounted in the container: /repos/<name>. */
export const COMPANIONS_DIR = '/repos';

export interface Companion {
  readonly repo: ConversationRepo;
  readonly config: RepoServerConfig;
  readonly mirror: RepoMirror;
}

export interface CompanionInputs {
  /** The conversation's set, primary first; just the primary for a single-repository task. */
  readonly repos: readonly ConversationRepo[];
  readonly companions: readonly Companion[];
  readonly allowlists: readonly Allowlist[];
  /** Proxy rules of the `write` companions (surrogates in `env`). */
  readonly masks: readonly MaskRule[];
  readonly env: Readonly<Record<string, string>>;
}

export async function companionInputs(ctx: TaskContext, sandboxOn: boolean): Promise<CompanionInputs> {
  const repos = companionSet(ctx);
  if (repos.length > 1 && ctx.settings.execution.backend === 'kubernetes') {
    refuse('this daemon runs tasks on Kubernetes, where companion repositories cannot be mounted yet; send the task without the Repos: line');
  }
  // Recorded only once allowed here, so a refused first task leaves its conversation single-repository.
  if (ctx.isFirstTask && repos.length > 0) ctx.store.saveConversationRepos(repos);
  const companions: Companion[] = [];
  const allowlists: Allowlist[] = [];
  const masks: MaskRule[] = [];
  const env: Record<string, string> = {};
  for (const repo of repos) {
    if (repo.primary) continue;
    const config = ctx.companionRepos[repo.name]!;
    const mirror = ctx.companionMirror(config);
    try {
      await mirror.update();
    } catch (err) {
      throw new UserFacingError('GIT_FETCH_FAILED', `I could not fetch the companion repository ${repo.name}: ${(err as Error).message}`, { cause: err });
    }
    if (sandboxOn) allowlists.push(await readAllowlist(mirror, repo.name));
    if (repo.access === 'write') {
      const credentials = taskCredentials(config, {}, ctx.log);
      for (const [name, value] of Object.entries(credentials.env)) if (!Object.hasOwn(env, name)) env[name] = value;
      masks.push(...credentials.rules.filter((r) => env[r.name] === r.surrogate));
    }
    companions.push({ repo, config, mirror });
  }
  return { repos, companions, allowlists, masks, env };
}

/** The first task's checked request, or the set its conversation keeps. */
function companionSet(ctx: TaskContext): readonly ConversationRepo[] {
  if (ctx.reposLineProblem !== null && ctx.isFirstTask) refuse(`${ctx.reposLineProblem}. Write it as, for example, "Repos: backend, docs:read" on the first line of the message.`);
  if (!ctx.isFirstTask) {
    const kept = ctx.store.conversationRepos();
    const asked = requestedOf(ctx).length > 0;
    // Silently running a single-repository conversation on one repository would look like the request was honoured.
    if (kept.length === 0 && asked) refuse('a reply keeps the repositories its conversation started with, and this one started with its own repository alone. To use other repositories, send the Repos: line in a new message (not a reply)');
    if (kept.length === 0) return [];
    if (asked) ctx.log.info('a follow-up named repositories; the conversation keeps the set it started with');
    const verdict = recheckCompanions(ctx.repo, ctx.companionRepos, kept, companionSender(ctx));
    if (!verdict.ok) refuse(verdict.problem);
    return kept;
  }
  const requested = requestedOf(ctx);
  if (requested.length === 0) return [];
  const verdict = resolveCompanions(ctx.repo, ctx.companionRepos, requested, companionSender(ctx));
  if (!verdict.ok) refuse(verdict.problem);
  return verdict.repos;
}

/** What the task asked for: recorded with it (the task API), else its mail's `Repos:` line. */
function requestedOf(ctx: TaskContext): readonly RequestedRepo[] {
  const stored = ctx.store.requestedRepos();
  return stored.length > 0 ? stored : ctx.mailRepos;
}

/**
 * The sender each companion's authorized_senders must admit; null for a task submitted over the
 * API, whose token scope covered every repository it named when it was submitted.
 */
function companionSender(ctx: TaskContext): string | null {
  return ctx.store.submittedByApi() ? null : ctx.task.sender;
}

function refuse(problem: string): never {
  throw new UserFacingError('REPOS_REFUSED', `The task did not run: ${problem}`);
}

/** The allowlists' union: every domain and URL prefix of each (duplicates are harmless to the proxy). */
export function unionAllowlists(lists: readonly Allowlist[]): Allowlist {
  return { domains: [...new Set(lists.flatMap((l) => l.domains))], urlPrefixes: lists.flatMap((l) => l.urlPrefixes) };
}

/**
 * Each companion's clone under the conversation (`repos/<name>/`), made fresh from its own mirror
 * when missing (a new conversation, or a crash mid-clone); a follow-up keeps its clone as the
 * workspace is kept. Returns the container mounts, read-only for `read` companions.
 */
export async function cloneCompanions(companions: readonly Companion[], conversationRoot: string): Promise<RepoMount[]> {
  const mounts: RepoMount[] = [];
  for (const c of companions) {
    const dir = path.join(conversationRoot, 'repos', c.repo.name);
    if (!(await isGitCheckout(dir))) {
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(path.dirname(dir), { recursive: true });
      try {
        await c.mirror.cloneWorkspace(dir, c.repo.branch ?? undefined);
      } catch (err) {
        throw new UserFacingError('GIT_CLONE_FAILED', `I could not clone the companion repository ${c.repo.name}${c.repo.branch ? ` (branch ${c.repo.branch})` : ''}: ${(err as Error).message}`, { cause: err });
      }
    }
    await c.mirror.scrubWorkspace(dir);
    mounts.push({ source: dir, target: `${COMPANIONS_DIR}/${c.repo.name}`, readOnly: c.repo.access === 'read' });
  }
  return mounts;
}

async function isGitCheckout(dir: string): Promise<boolean> {
  return fs.stat(path.join(dir, '.git')).then(
    () => true,
    () => false,
  );
}
