/**
 * Stage 1, repo inputs: what the task runs on, from the mail and the repository's default branch —
 * a non-empty request, the updated mirror, the repository's config (with masked secrets as
 * surrogates) and, with the network sandbox on, its allowlist.
 */
import { AirutError } from '../../errors.ts';
import type { Allowlist } from '../../proxy/allowlist.ts';
import type { MaskRule } from '../../proxy/masked-secrets.ts';
import { buildSigningRules, signingSurrogateEnv, type SigningRule } from '../../proxy/sigv4-surrogates.ts';
import { loadRepoConfigFromMirror, type RepoConfig } from '../../repo-config/index.ts';
import { effectiveTaskBudget } from '../../limits/task-budget.ts';
import { effectiveTaskTimeout } from '../../limits/task-timeout.ts';
import type { TaskContext } from '../task-context.ts';
import { companionInputs, unionAllowlists, type CompanionInputs } from '../companions.ts';
import { readAllowlist } from '../read-allowlist.ts';
import { taskCredentials } from '../task-credentials.ts';
import { UserFacingError } from '../user-facing-error.ts';

export interface RepoInputs {
  readonly repoConfig: RepoConfig;
  readonly masks: readonly MaskRule[];
  /** signing_credentials with this task's surrogates; the proxy re-signs with the real keys. */
  readonly signing: readonly SigningRule[];
  /**
   * The container's environment: every credential pool's entries (surrogates for all but plain
   * secrets; see task-credentials.ts), with the repository's container_env over them.
   */
  readonly containerEnv: Readonly<Record<string, string>>;
  /** The allowlist when the network sandbox is on; null when it is off. */
  readonly allowlist: Allowlist | null;
  /** The task's budget in USD (`--max-budget-usd`), null for none; recorded in `tasks.budget_usd`. */
  readonly budgetUsd: number | null;
  /** The agent's time limit: the file's `timeout` within the server's `resource_limits.timeout` (task-timeout.ts). */
  readonly timeoutSeconds: number;
  /** The task's repositories (primary first) and its companions, checked and their mirrors updated (companions.ts). */
  readonly companions: CompanionInputs;
}

/**
 * How old a fetch of the repository's mirror a follow-up accepts instead of fetching again (the
 * previous task of a busy repository fetched seconds ago). A follow-up runs in its conversation's
 * own workspace, which the mirror does not touch (the agent pulls from origin itself); from the
 * mirror it takes only the repository's config, allowlist and container image, and a view of them
 * at most this old is the one it would have had arriving that much earlier. Short, because a user
 * who pushes a fix (say to the allowlist) and replies "try again" expects it to apply: a human
 * reply to a finished task comes later than this. A new conversation always fetches: its workspace
 * is cloned from the mirror, and a branch pushed a moment ago must be in it.
 */
export const FOLLOW_UP_MIRROR_FRESH_MS = 10_000;

export async function repoInputsStage(ctx: TaskContext): Promise<RepoInputs> {
  const { repo, log } = ctx;
  requireSomethingToDo(ctx);
  // Mirror first: the repo config and the container image come from its default branch.
  try {
    await ctx.mirror.update(ctx.isFirstTask ? {} : { freshForMs: FOLLOW_UP_MIRROR_FRESH_MS });
  } catch (err) {
    throw new UserFacingError('GIT_FETCH_FAILED', `I could not fetch the repository: ${(err as Error).message}`, { cause: err });
  }
  // Masked secrets, signing and GitHub App credentials reach the repository's config (and so the
  // container) only as surrogates, with the sandbox on or off: the repository's own file cannot undo
  // what the operator promised.
  if (!ctx.settings.execution.sandbox) throw new AirutError('SANDBOX_SPEC_INVALID', 'the runner was started without the sandbox prepared at start-up (prepareSandbox)');
  const signing = buildSigningRules(repo.signingCredentials);
  const credentials = taskCredentials(repo, signingSurrogateEnv(signing), log);
  const masks = credentials.rules;
  let repoConfig: RepoConfig;
  try {
    // `!secret` reads the injected map; a plain secret with an empty value stays readable as before.
    repoConfig = await loadRepoConfigFromMirror(ctx.mirror, { ...repo.secrets, ...credentials.env });
  } catch (err) {
    throw new UserFacingError('REPO_CONFIG_INVALID', `The repository's configuration is invalid: ${(err as Error).message}`, { cause: err });
  }
  const sandboxOn = repoConfig.sandboxEnabled && repo.network.sandboxEnabled;
  if (!sandboxOn) {
    log.warn(
      { repoSetting: repoConfig.sandboxEnabled, serverSetting: repo.network.sandboxEnabled, maskedSecrets: masks.length, signingCredentials: signing.length },
      masks.length || signing.length
        ? 'network sandbox is off: the container gets unrestricted network, and masked secrets and signing credentials stay surrogates that nothing swaps or re-signs'
        : 'network sandbox is off: the container gets unrestricted network',
    );
  }
  const own = sandboxOn ? await readAllowlist(ctx.mirror) : null;
  const companions = await companionInputs(ctx, sandboxOn);
  const allowlist = own && unionAllowlists([own, ...companions.allowlists]);
  // The primary's credentials win a name a companion also uses; that companion's rule is dropped with its surrogate.
  const env = { ...companions.env, ...credentials.env };
  const allMasks = [...masks, ...companions.masks.filter((r) => env[r.name] === r.surrogate)];
  const containerEnv = { ...env, ...repoConfig.containerEnv };
  return { repoConfig, masks: allMasks, signing, containerEnv, allowlist, budgetUsd: taskBudget(ctx, repoConfig), timeoutSeconds: taskTimeout(ctx, repoConfig), companions };
}

/** The file's `timeout`, lowered (never raised) to the server's `resource_limits.timeout` when that is set. */
function taskTimeout(ctx: TaskContext, repoConfig: RepoConfig): number {
  const t = effectiveTaskTimeout(ctx.repo.resourceLimits.timeoutSeconds, repoConfig.timeoutSetInFile ? repoConfig.timeoutSeconds : null, repoConfig.timeoutSeconds);
  if (t.loweredRepoSeconds !== null) {
    ctx.log.warn(
      { repoSetting: t.loweredRepoSeconds, serverSetting: t.timeoutSeconds },
      `timeout in .airut/airut.yaml is above the server's resource_limits.timeout for repository ${ctx.repo.repoId}; the server's limit is used (a repository may lower it, never raise it)`,
    );
  }
  return t.timeoutSeconds;
}

/**
 * The server's task budget, lowered (never raised) by the repository's `max_budget_usd` and by the
 * budget the task was submitted with over the API (checked against the server's at submission);
 * recorded on the task.
 */
function taskBudget(ctx: TaskContext, repoConfig: RepoConfig): number | null {
  const requested = ctx.store.requestedBudget();
  const server = ctx.repo.budget.taskUsd;
  const serverOrRequested = requested === null ? server : server === null ? requested : Math.min(server, requested);
  const budget = effectiveTaskBudget(serverOrRequested, repoConfig.maxBudgetUsd);
  if (budget.ignoredRepoUsd !== null) {
    ctx.log.warn(
      { repoSetting: budget.ignoredRepoUsd, serverSetting: budget.budgetUsd },
      `max_budget_usd in .airut/airut.yaml is above the server's budget.task_usd for repository ${ctx.repo.repoId}; the server's budget is used (a repository may lower it, never raise it)`,
    );
  }
  ctx.store.setBudget(budget.budgetUsd);
  return budget.budgetUsd;
}

/** An empty reply (or a new mail with neither subject nor body) gets an explanation, not a run. */
function requireSomethingToDo(ctx: TaskContext): void {
  if (ctx.bodyText.trim() || (ctx.isFirstTask && ctx.subject.trim())) return;
  // A paused run has its own work to continue; coalesced follow-ups count as one request.
  if (ctx.resumedFromPause || ctx.coalesced.some((m) => m.bodyText.trim())) return;
  throw new UserFacingError(
    'MAIL_EMPTY',
    ctx.isFirstTask
      ? 'Your message had neither a subject nor a body, so there was nothing to do. Write the task in the body and send it again.'
      : 'Your reply had no text (after removing the quoted history), so there was nothing to do. Write what you want in the reply and send it again.',
  );
}
