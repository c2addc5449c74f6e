/**
 * The checks every route makes against the request's scope (access-scope.ts), in one place so a
 * new route reads as "find it, then requireRepo" and cannot word its refusal differently: a thing
 * outside the scope is refused with exactly the 404 the route gives a thing that does not exist.
 */
import type { Context } from 'hono';
import { scopeOf, scopeSees, type AccessScope } from './access-scope.ts';
import { DashboardError } from './http-error.ts';
import type { HealthReport } from './health.ts';

/** Throws `notFound` (the route's own "no such …" error) unless the scope includes this repository. */
export function requireRepo(c: Context, repoId: string, notFound: () => DashboardError): void {
  if (!scopeSees(scopeOf(c), repoId)) throw notFound();
}

/** The repositories of `ids` this request may see, in their order. */
export function visibleRepos(c: Context, ids: readonly string[]): string[] {
  const scope = scopeOf(c);
  return ids.filter((id) => scopeSees(scope, id));
}

/** The store's repository filter for this request: undefined for every repository, else the scope's list. */
export function scopeRepoFilter(scope: AccessScope): readonly string[] | undefined {
  return scope.repos === null ? undefined : [...scope.repos].sort();
}

/** A short key of the scope's repositories, for caches shared between requests. */
export function scopeKey(c: Context): string {
  const repos = scopeRepoFilter(scopeOf(c));
  return repos === undefined ? '*' : JSON.stringify(repos);
}

/**
 * Operator-wide pages (/metrics): for the whole view only. A scoped token, or a team's host name,
 * gets the 404 of a page that does not exist.
 */
export function requireWholeView(c: Context): void {
  const scope = scopeOf(c);
  if (!scope.admin || scope.repos !== null) throw new DashboardError(404, 'This page does not exist.', { json: { error: 'not found' } });
}

/** For changes (stop, submit): an in-scope thing a read-only token may see but not change. */
export function requireSubmit(c: Context, refused: (message: string) => DashboardError): void {
  if (!scopeOf(c).submit) throw refused('this token may only read');
}

/**
 * The overall listener status a request may learn: the daemon's for the whole view; for a scope,
 * only whether its own repositories' listeners are healthy (another team's failing login is not its business).
 */
export function scopedStatus(c: Context, health: HealthReport, visible: readonly string[]): 'ok' | 'degraded' {
  if (scopeOf(c).repos === null) return health.status;
  return visible.every((id) => health.repos[id]?.healthy ?? true) ? 'ok' : 'degraded';
}
