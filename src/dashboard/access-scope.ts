/**
 * What one request may see and do, decided once per request by the auth gate (auth-gate.ts) and
 * read by every route with scopeOf(c). The dashboard's own token, a login session and an open
 * dashboard (no token configured) see everything; an API token (src/store/api-tokens.ts) sees only
 * the repositories it was created for, and submits only when it was given that right. A host
 * listed in `dashboard.hosts` narrows the view further to its repositories.
 *
 * Routes refuse anything outside the scope with 404, exactly as if it did not exist: a 403 would
 * tell a team's token that another team's task, conversation or repository is there.
 */
import type { Context } from 'hono';

export interface AccessScope {
  /** The dashboard's own token, a session or an open dashboard: every repository, every action, admin pages. */
  readonly admin: boolean;
  /** The repositories this request may see; null: all of them. */
  readonly repos: ReadonlySet<string> | null;
  /** May create tasks and continue conversations (`POST /api/tasks`, `…/messages`) and stop tasks. */
  readonly submit: boolean;
  /** The API token's name, for logs and the task's sender when it has no reply address; null for admin access. */
  readonly tokenName: string | null;
}

export const FULL_ACCESS: AccessScope = Object.freeze({ admin: true, repos: null, submit: true, tokenName: null });

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by the auth gate; absent only where no gate ran (then: full access, as before scopes existed). */
    scope: AccessScope;
  }
}

export function scopeOf(c: Context): AccessScope {
  return c.get('scope') ?? FULL_ACCESS;
}

/** True when the scope includes this repository. */
export function scopeSees(scope: AccessScope, repoId: string): boolean {
  return scope.repos === null || scope.repos.has(repoId);
}
