/** The JSON API, /health, /metrics and the stop action. */

/** Network log rows per API call at most (and the default). */
export const NETWORK_API_MAX = 1000;
const NETWORK_API_DEFAULT = 500;

/** A cursor: absent or empty is 0; otherwise a non-negative integer, or undefined when malformed. */
function parseCursor(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return 0;
  if (!/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}
import type { Context, Hono } from 'hono';
import { redactSecretValues } from '../log/logger.ts';
import {
  conversationCost,
  conversationExists,
  countByRepoAndStatus,
  countPendingRepliesByRepo,
  getConversation,
  isTaskStatus,
  listConversationTasks,
  listTaskPage,
  TASK_STATUSES,
} from '../store/dashboard-queries.ts';
import { listMailForTask } from '../store/outgoing-mail.ts';
import { listNetworkRequests } from '../store/network-log.ts';
import { loadRepoStatuses } from '../store/repo-status.ts';
import { listTaskEvents } from '../store/task-events.ts';
import { getTask, type TaskRow } from '../store/task-queries.ts';
import { configuredRepoIds, type DashboardDeps } from './context.ts';
import { assessHealth } from './health.ts';
import { collectMetrics, renderMetrics } from './metrics.ts';
import { parseId } from './pages.ts';
import { CSRF_HEADER } from './security.ts';
import { authOf } from './auth-gate.ts';
import { canStop } from './views.ts';

/** Every string in a JSON answer passes through the secret redaction, however deeply nested. */
export function redactDeep(v: unknown): unknown {
  if (typeof v === 'string') return redactSecretValues(v);
  if (Array.isArray(v)) return v.map(redactDeep);
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[k] = redactDeep(val);
    return out;
  }
  return v;
}

function json(c: Context, body: unknown, status: 200 | 400 | 403 | 404 | 409 | 500 | 503 = 200): Response {
  return c.json(redactDeep(body) as object, status);
}

function taskJson(t: TaskRow): Record<string, unknown> {
  return { ...t, url: `/tasks/${t.id}` };
}

export function registerApi(app: Hono, d: DashboardDeps): void {
  const { db } = d.o;

  app.get('/api/tasks', (c) => {
    const repo = c.req.query('repo') || undefined;
    const statusParam = c.req.query('status') || undefined;
    if (statusParam !== undefined && !isTaskStatus(statusParam)) {
      return json(c, { error: `unknown status; use one of ${TASK_STATUSES.join(', ')}` }, 400);
    }
    const beforeParam = c.req.query('before');
    const before = parseId(beforeParam);
    if (beforeParam && before === undefined) return json(c, { error: 'before must be a task id (a positive integer)' }, 400);
    const limitParam = c.req.query('limit');
    const limit = limitParam ? Number(limitParam) : 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return json(c, { error: 'limit must be an integer from 1 to 200' }, 400);
    const key = `api ${repo ?? ''} ${statusParam ?? ''} ${before ?? ''} ${limit}`;
    const now = d.now();
    let body = d.listCache.get(key, now);
    if (body === null) {
      const page = listTaskPage(db, { repoId: repo, status: statusParam, beforeId: before, limit });
      body = JSON.stringify(redactDeep({ tasks: page.tasks.map(taskJson), nextBefore: page.nextBefore }));
      d.listCache.set(key, body, now);
    }
    return c.body(body, 200, { 'Content-Type': 'application/json' });
  });

  app.get('/api/tasks/:id', (c) => {
    const id = parseId(c.req.param('id'));
    const task = id === undefined ? null : getTask(db, id);
    if (!task) return json(c, { error: 'no such task' }, 404);
    const after = parseId(c.req.query('after')) ?? 0;
    const events = listTaskEvents(db, task.id, after, 5000);
    return json(c, {
      task: taskJson(task),
      events: events.map((e) => ({ id: e.id, at: e.at, kind: e.kind, data: e.data })),
      replies: listMailForTask(db, task.id),
    });
  });

  app.get('/api/conversations/:repo/:id', (c) => {
    const repoId = c.req.param('repo');
    const convId = c.req.param('id');
    const conversation = getConversation(db, repoId, convId);
    const tasks = listConversationTasks(db, repoId, convId);
    if (!conversation && tasks.length === 0) return json(c, { error: 'no such conversation' }, 404);
    return json(c, { conversation, tasks: tasks.map(taskJson), totalCostUsd: conversationCost(tasks) });
  });

  app.get('/api/conversations/:repo/:id/network', (c) => {
    const repoId = c.req.param('repo');
    const convId = c.req.param('id');
    const after = parseCursor(c.req.query('after'));
    if (after === undefined) return json(c, { error: 'after must be a request id (a non-negative integer)' }, 400);
    const limitParam = c.req.query('limit');
    const limit = limitParam ? Number(limitParam) : NETWORK_API_DEFAULT;
    if (!Number.isInteger(limit) || limit < 1 || limit > NETWORK_API_MAX) {
      return json(c, { error: `limit must be an integer from 1 to ${NETWORK_API_MAX}` }, 400);
    }
    if (!conversationExists(db, repoId, convId)) return json(c, { error: 'no such conversation' }, 404);
    const rows = listNetworkRequests(db, repoId, convId, after, limit + 1);
    const requests = rows.slice(0, limit);
    return json(c, {
      requests: requests.map((r) => ({ ...r, taskUrl: `/tasks/${r.taskId}` })),
      lastId: requests.length ? requests[requests.length - 1]!.id : after,
      more: rows.length > limit,
    });
  });

  app.get('/api/repos', (c) => {
    const now = d.now();
    const repoIds = configuredRepoIds(d);
    const statuses = loadRepoStatuses(db);
    const byRepo = new Map(statuses.map((s) => [s.repoId, s]));
    const health = assessHealth({ repoIds, statuses, problems: [], now, since: d.since });
    const counts = countByRepoAndStatus(db);
    const pending = countPendingRepliesByRepo(db);
    const extra = [...new Set(counts.map((x) => x.repoId))].filter((r) => !repoIds.includes(r)).sort();
    const repos = [...repoIds, ...extra].map((id) => {
      const byStatus: Record<string, number> = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0]));
      for (const x of counts) if (x.repoId === id) byStatus[x.status] = x.count;
      const s = byRepo.get(id);
      const hl = health.repos[id];
      return {
        id,
        configured: repoIds.includes(id),
        fromAddress: d.o.config.repos[id]?.email.fromAddress ?? null,
        listener: hl
          ? { ...hl, lastMailAt: s?.lastMailAt ?? null }
          : null,
        counts: byStatus,
        repliesPending: pending.get(id) ?? 0,
      };
    });
    return json(c, { status: health.status, repos });
  });

  app.get('/health', (c) => {
    let extra: ReadonlyArray<{ readonly component: string; readonly message: string }> = [];
    try {
      extra = d.o.healthProblems?.() ?? [];
    } catch (err) {
      extra = [{ component: 'dashboard', message: `health check failed: ${(err as Error).message}` }];
    }
    let report;
    try {
      report = assessHealth({ repoIds: configuredRepoIds(d), statuses: loadRepoStatuses(db), problems: extra, now: d.now(), since: d.since });
    } catch (err) {
      return json(c, { status: 'degraded', repos: {}, problems: [{ component: 'database', message: (err as Error).message }] }, 503);
    }
    const code = report.status === 'ok' ? 200 : 503;
    // With a token configured, an anonymous probe learns only up or down.
    if (d.security.tokenRequired && authOf(c) === null) return json(c, { status: report.status }, code);
    const repos = Object.fromEntries(
      Object.entries(report.repos).map(([id, r]) => [id, { state: r.state, healthy: r.healthy, detail: r.detail, lastError: r.lastError, nextRetryAt: r.nextRetryAt }]),
    );
    return json(c, report.status === 'ok' ? { status: 'ok', repos } : { status: 'degraded', repos, problems: report.problems }, code);
  });

  app.get('/metrics', (c) => {
    const text = redactSecretValues(renderMetrics(collectMetrics(db, configuredRepoIds(d))));
    return c.body(text, 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.post('/api/tasks/:id/stop', async (c) => {
    const contentType = c.req.header('content-type') ?? '';
    const isForm = contentType.startsWith('application/x-www-form-urlencoded') || contentType.startsWith('multipart/form-data');
    let presented = c.req.header(CSRF_HEADER);
    if (presented === undefined && isForm) {
      const form = await c.req.parseBody();
      presented = typeof form.csrf === 'string' ? form.csrf : undefined;
    }
    const viaBearer = authOf(c) === 'bearer';
    if (!viaBearer && (!d.security.sameOrigin(c) || !d.security.csrfValid(presented))) {
      d.o.log.warn({ origin: c.req.header('origin') ?? null, fetchSite: c.req.header('sec-fetch-site') ?? null }, 'dashboard: refused a cross-site stop request');
      return json(c, { ok: false, message: 'cross-site request refused: reload the dashboard page and try again' }, 403);
    }
    const id = parseId(c.req.param('id'));
    const task = id === undefined ? null : getTask(db, id);
    if (!task) return json(c, { ok: false, message: 'no such task' }, 404);
    const back = (): Response => c.redirect(`/tasks/${task.id}`, 303);
    if (!canStop(task.status)) {
      if (isForm) return back();
      return json(c, { ok: false, status: task.status, message: `the task is ${task.status}; only queued or running tasks can be stopped` }, 409);
    }
    let result;
    try {
      result = await d.o.actions.stopTask(task.id);
    } catch (err) {
      d.o.log.error({ task: task.id, err: (err as Error).message }, 'dashboard: stopping a task failed');
      return json(c, { ok: false, status: task.status, message: 'stopping the task failed; see the daemon log' }, 500);
    }
    d.o.log.info({ task: task.id, repo: task.repoId, ok: result.ok, status: result.status }, 'dashboard: stop requested');
    if (isForm) return back();
    return json(c, { ok: result.ok, status: result.status, message: result.message }, result.ok ? 200 : 409);
  });
}
