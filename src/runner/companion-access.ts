/**
 * Whether a task may have the companion repositories it asks for (docs/multi-repo.md): each must be
 * listed in the primary's `companions` and still configured, asked for at most the access listed
 * there, and (for mail) the sender must be authorized by the companion's OWN `authorized_senders`:
 * naming a repository never lends the primary's authorization to it. Pure: data in, verdict out.
 * A task without a sender (an API call without `reply_to`) was authorized by its token's scope,
 * which the API checks.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { isAuthorizedSender } from '../email/authorize.ts';
import type { RequestedRepo } from '../protocol/requested-repos.ts';
import type { ConversationRepo } from '../store/conversation-repos.ts';

export type CompanionVerdict = { readonly ok: true; readonly repos: readonly ConversationRepo[] } | { readonly ok: false; readonly problem: string };

/**
 * The conversation's set (primary first) for a first task asking for `requested`, or the problem
 * with the first entry that may not be had, written for the sender.
 */
export function resolveCompanions(
  primary: Pick<RepoServerConfig, 'repoId' | 'companions'>,
  configured: Readonly<Record<string, Pick<RepoServerConfig, 'authorizedSenders'>>>,
  requested: readonly RequestedRepo[],
  sender: string | null,
): CompanionVerdict {
  const repos: ConversationRepo[] = [{ name: primary.repoId, access: 'write', branch: null, primary: true }];
  const allowed = allowedText(primary);
  for (const r of requested) {
    if (r.name === primary.repoId) return refuse(`${r.name} is this task's own repository (at /workspace); name only the others in the Repos: line`);
    if (repos.some((x) => x.name === r.name)) return refuse(`repository ${r.name} is named twice`);
    const granted = Object.hasOwn(primary.companions, r.name) ? primary.companions[r.name] : undefined;
    const companion = Object.hasOwn(configured, r.name) ? configured[r.name] : undefined;
    if (granted === undefined || companion === undefined) {
      return refuse(`repository ${JSON.stringify(r.name)} is not a companion of ${primary.repoId}; ${allowed}`);
    }
    if (r.access === 'write' && granted === 'read') {
      return refuse(`repository ${r.name} may only be read by tasks of ${primary.repoId} (its companions entry says read); ask for ${r.name}:read or ask the operator`);
    }
    if (sender !== null && !isAuthorizedSender(sender, companion.authorizedSenders)) {
      return refuse(`you are not authorized for repository ${r.name}, so this task cannot use it; ask its operator to add you to its authorized_senders`);
    }
    repos.push({ name: r.name, access: r.access ?? granted, branch: r.branch ?? null, primary: false });
  }
  return { ok: true, repos };
}

/**
 * A follow-up keeps its conversation's set; it is checked again against today's configuration
 * (a companion removed, or lowered to read, since the conversation began) and against its own
 * sender: anyone authorized for the primary may reply to a conversation, so a reply must not lend
 * a companion to a sender its own authorized_senders does not admit.
 */
export function recheckCompanions(
  primary: Pick<RepoServerConfig, 'repoId' | 'companions'>,
  configured: Readonly<Record<string, Pick<RepoServerConfig, 'authorizedSenders'>>>,
  repos: readonly ConversationRepo[],
  sender: string | null = null,
): CompanionVerdict {
  for (const r of repos) {
    if (r.primary) continue;
    const granted = Object.hasOwn(primary.companions, r.name) ? primary.companions[r.name] : undefined;
    const companion = Object.hasOwn(configured, r.name) ? configured[r.name] : undefined;
    if (granted === undefined || companion === undefined) {
      return refuse(`this conversation uses repository ${r.name}, which is no longer a companion of ${primary.repoId}; start a new conversation`);
    }
    if (sender !== null && !isAuthorizedSender(sender, companion.authorizedSenders)) {
      return refuse(`this conversation uses repository ${r.name}, and you are not authorized for it; ask its operator to add you to its authorized_senders`);
    }
    if (r.access === 'write' && granted === 'read') {
      return refuse(`this conversation has write access to repository ${r.name}, which ${primary.repoId} now grants read only; start a new conversation`);
    }
  }
  return { ok: true, repos };
}

function allowedText(primary: Pick<RepoServerConfig, 'repoId' | 'companions'>): string {
  const names = Object.entries(primary.companions).map(([n, a]) => `${n} (${a})`);
  return names.length === 0 ? `${primary.repoId} allows no companion repositories` : `${primary.repoId} allows: ${names.join(', ')}`;
}

function refuse(problem: string): CompanionVerdict {
  return { ok: false, problem };
}
