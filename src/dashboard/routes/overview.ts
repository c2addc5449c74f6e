/**
 * The Overview: `GET /overview` (the charts) and `GET /api/overview` (their numbers as JSON), both
 * from loadOverview, behind the same guards as every other page and API route.
 */
import { Hono, type Context } from 'hono';
import { configuredRepoIds, type DashboardDeps } from '../context.ts';
import { MicroCache } from '../cache.ts';
import { redactDeep } from '../json.ts';
import { loadOverview, parseOverviewParams, type OverviewData } from '../overview-data.ts';
import { overviewBody } from '../overview-view.ts';
import { pageContext, sendHtml } from '../render.ts';
import { layout } from '../views.ts';
import { scopeOf } from '../access-scope.ts';
import { DashboardError } from '../http-error.ts';
import { requireRepo, scopeKey, scopeRepoFilter, visibleRepos } from '../scope-guard.ts';

/**
 * Aggregates over up to 90 days take a few hundred ms at 100,000 tasks (store/overview-stats.ts);
 * a day's figures barely move in half a minute, so a reload or a polling script reuses them.
 */
export const OVERVIEW_CACHE_MS = 30_000;

export function overviewRoutes(d: DashboardDeps): Hono {
  const cache = new MicroCache(OVERVIEW_CACHE_MS);
  /** The figures as (redacted) JSON text: the API's body as is, parsed again for the page. */
  const json = (c: Context): string => {
    const parsed = parseOverviewParams(c.req.query('days'), c.req.query('repo'));
    if (parsed.repo !== null) requireRepo(c, parsed.repo, () => new DashboardError(404, 'There is no such repository.'));
    const p = { ...parsed, repoIds: scopeRepoFilter(scopeOf(c)) };
    const now = d.now();
    const key = `${p.days} ${p.repo ?? ''} ${scopeKey(c)}`;
    let body = cache.get(key, now);
    if (body === null) {
      body = JSON.stringify(redactDeep(loadOverview(d.o.db, p, now)));
      cache.set(key, body, now);
    }
    return body;
  };
  return new Hono()
    .get('/overview', (c) => {
      const o = JSON.parse(json(c)) as OverviewData;
      const repos = visibleRepos(c, configuredRepoIds(d));
      if (o.repo !== null && !repos.includes(o.repo)) repos.push(o.repo);
      return sendHtml(c, layout(pageContext(d, c), 'Overview', 'overview', overviewBody(o, repos)));
    })
    .get('/api/overview', (c) => c.body(json(c), 200, { 'Content-Type': 'application/json' }));
}
