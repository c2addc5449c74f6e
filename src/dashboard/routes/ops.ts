/**
 * What monitoring reads: `/health` (200 or 503; with a token configured, an anonymous probe learns
 * only up or down; a configuration file a reload refused is listed under `config`, without a 503) and `/metrics` (Prometheus text).
 */
import { Hono, type Context } from 'hono';
import { redactSecretValues } from '../../log/logger.ts';
import { loadRepoStatuses } from '../../store/repo-status.ts';
import { authOf } from '../auth-gate.ts';
import { configuredRepoIds, type DashboardDeps } from '../context.ts';
import { assessHealth, type HealthProblem } from '../health.ts';
import { sendJson } from '../json.ts';
import { collectMetrics, renderMetrics } from '../metrics.ts';
import { scopeOf } from '../access-scope.ts';
import { requireWholeView, scopedStatus, visibleRepos } from '../scope-guard.ts';

function health(d: DashboardDeps, c: Context): Response {
  let extra: readonly HealthProblem[] = [];
  try {
    extra = d.o.healthProblems?.() ?? [];
  } catch (err) {
    extra = [{ component: 'dashboard', message: `health check failed: ${(err as Error).message}` }];
  }
  let report;
  try {
    report = assessHealth({ repoIds: configuredRepoIds(d), statuses: loadRepoStatuses(d.o.db), problems: extra, now: d.now(), since: d.since });
  } catch (err) {
    return sendJson(c, { status: 'degraded', repos: {}, problems: [{ component: 'database', message: (err as Error).message }] }, 503);
  }
  const code = report.status === 'ok' ? 200 : 503;
  // With a token configured, an anonymous probe learns only up or down.
  if (d.security.tokenRequired && authOf(c) === null) return sendJson(c, { status: report.status }, code);
  // A scoped token sees its repositories' listeners; the daemon-wide problems and notice are the operator's.
  if (scopeOf(c).repos !== null) {
    const visible = visibleRepos(c, Object.keys(report.repos));
    const status = scopedStatus(c, report, visible);
    const repos = Object.fromEntries(visible.map((id) => [id, { state: report.repos[id]!.state, healthy: report.repos[id]!.healthy }]));
    return sendJson(c, { status, repos }, status === 'ok' ? 200 : 503);
  }
  const repos = Object.fromEntries(
    Object.entries(report.repos).map(([id, r]) => [id, { state: r.state, healthy: r.healthy, detail: r.detail, lastError: r.lastError, nextRetryAt: r.nextRetryAt }]),
  );
  const body = report.status === 'ok' ? { status: 'ok', repos } : { status: 'degraded', repos, problems: report.problems };
  const notice = d.o.configNotice?.() ?? null;
  return sendJson(c, notice ? { ...body, config: { applied: false, ...notice } } : body, code);
}

function metrics(d: DashboardDeps, c: Context): Response {
  requireWholeView(c);
  const repoIds = configuredRepoIds(d);
  // Redacted per request rather than in the cache: a reload may register new secret values.
  const text = redactSecretValues(d.metricsCache.get(repoIds, () => renderMetrics(collectMetrics(d.o.db, repoIds))));
  return c.body(text, 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
}

/** `/health` and `/metrics`. */
export function opsRoutes(d: DashboardDeps): Hono {
  return new Hono()
    .get('/health', (c) => health(d, c))
    .get('/metrics', (c) => metrics(d, c));
}
