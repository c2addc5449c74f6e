/**
 * The scope of a request presenting an API token (src/store/api-tokens.ts): the token's
 * repositories that the configuration still has, and submit only for a token given that right.
 * The token itself is never logged; its name is.
 */
import { findActiveToken, TOKEN_PREFIX, touchApiToken } from '../store/api-tokens.ts';
import type { Db } from '../store/database.ts';
import type { AccessScope } from './access-scope.ts';

/** last_used_at is for `airut token list`, not an audit log: one write a minute per token is enough. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export class ApiTokenAuth {
  constructor(
    private readonly db: Db,
    /** Read per request: a repository removed by a reload drops out of every token at once. */
    private readonly configuredRepos: () => readonly string[],
    private readonly now: () => number,
  ) {}

  /** The scope this token grants, or null when it is not an active API token. */
  scopeFor(token: string): AccessScope | null {
    // Saves a query for the dashboard's own token and for anything else that cannot be one of ours.
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const t = findActiveToken(this.db, token);
    if (!t) return null;
    const now = this.now();
    if (t.lastUsedAt === null || now - t.lastUsedAt >= LAST_USED_RESOLUTION_MS) touchApiToken(this.db, t.id, now);
    const configured = new Set(this.configuredRepos());
    return {
      admin: false,
      repos: new Set(t.repos.filter((r) => configured.has(r))),
      submit: t.rights === 'submit',
      tokenName: t.name,
    };
  }
}
