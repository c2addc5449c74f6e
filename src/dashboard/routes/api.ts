/** The JSON API's reads: tasks, one task with its events and replies, conversations and their network log, repos. */
import { Hono, type Context } from 'hono';
import { conversationCost, listConversationTasks, TASK_STATUSES, type TaskPage } from '../../store/dashboard-queries.ts';
import { searchTaskPage, TaskSearchError } from '../../store/task-search.ts';
import { conversationExists, getConversation } from '../../store/conversations.ts';
import { listMailForTask } from '../../store/outgoing-mail.ts';
import { listDeliveriesForTask } from '../../store/webhook-deliveries.ts';
import { listNetworkRequests } from '../../store/network-log.ts';
import { listTaskEvents } from '../../store/task-events.ts';
import { listTaskStages } from '../../store/task-stages.ts';
import { listTaskFiles } from '../../store/task-content.ts';
import { getTaskResult } from '../../store/task-results.ts';
import { taskFileJson } from '../file-download.ts';
import { getTask, type TaskRow } from '../../store/task-queries.ts';
import type { DashboardDeps } from '../context.ts';
import { DashboardError } from '../http-error.ts';
import { redactDeep, sendJson } from '../json.ts';
import { parseCursor, parseId } from '../params.ts';
import { readTaskFilters } from '../task-filters.ts';
import { loadRepoOverview } from '../repo-overview.ts';
import { scopeOf, scopeSees } from '../access-scope.ts';
import { requireRepo, scopeKey, scopeRepoFilter, scopedStatus, visibleRepos } from '../scope-guard.ts';
import { taskRepositories } from '../task-repositories.ts';

/** Network log rows per API call at most (and the default). */
export const NETWORK_API_MAX = 1000;
const NETWORK_API_DEFAULT = 500;

function taskJson(t: TaskRow): Record<string, unknown> {
  return { ...t, url: `/tasks/${t.id}` };
}

/** `GET /api/tasks`: the list, searched and filtered as the page is (task-filters.ts); a malformed filter is a 400. */
function listTasks(d: DashboardDeps, c: Context): Response {
  const f = readTaskFilters((name) => c.req.query(name));
  const limitParam = c.req.query('limit');
  const limit = limitParam ? Number(limitParam) : 50;
  const problems = [...f.problems];
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) problems.push('limit must be an integer from 1 to 200');
  if (f.query === null || problems.length) throw new DashboardError(400, problems.join('; '));
  // A repository outside the scope has no tasks, as far as this token can tell: an empty list, not an error.
  if (f.query.repoId !== undefined && !scopeSees(scopeOf(c), f.query.repoId)) return sendJson(c, { tasks: [], nextBefore: null });
  const key = `api ${JSON.stringify(f.params)} ${f.beforeId ?? ''} ${limit} ${scopeKey(c)}`;
  const now = d.now();
  let body = d.listCache.get(key, now);
  if (body === null) {
    let page: TaskPage;
    try {
      page = searchTaskPage(d.o.db, { ...f.query, repoIds: scopeRepoFilter(scopeOf(c)), limit });
    } catch (err) {
      if (err instanceof TaskSearchError) throw new DashboardError(400, err.message, { cause: err });
      throw err;
    }
    body = JSON.stringify(redactDeep({ tasks: page.tasks.map(taskJson), nextBefore: page.nextBefore }));
    d.listCache.set(key, body, now);
  }
  return c.body(body, 200, { 'Content-Type': 'application/json' });
}

function showTask(d: DashboardDeps, c: Context): Response {
  const { db } = d.o;
  const id = parseId(c.req.param('id'));
  const task = id === undefined ? null : getTask(db, id);
  const notFound = (): DashboardError => new DashboardError(404, 'no such task');
  if (!task) throw notFound();
  requireRepo(c, task.repoId, notFound);
  const after = parseId(c.req.query('after')) ?? 0;
  const events = listTaskEvents(db, task.id, after, 5000);
  return sendJson(c, {
    task: taskJson(task),
    events: events.map((e) => ({ id: e.id, at: e.at, kind: e.kind, data: e.data })),
    // When each stage of each attempt began (src/runner/stages/).
    stages: listTaskStages(db, task.id).map((s) => ({ attempt: s.attempt, stage: s.stage, at: s.at })),
    replies: listMailForTask(db, task.id),
    // What the task answered (its last reply, error or notice), mailed or not; null until it has.
    result: getTaskResult(db, task.id),
    // The mail's attachments ('in') and the reply's files ('out'): a download URL, or why not kept.
    files: listTaskFiles(db, task.id).map(taskFileJson),
    // The completion webhook's deliveries (docs/webhooks.md); id is the X-Airut-Delivery header.
    webhooks: listDeliveriesForTask(db, task.id).map((w) => ({ id: w.key, status: w.status, attempts: w.attempts, lastError: w.lastError, deliveredAt: w.deliveredAt })),
    // The primary and any companion repositories (docs/multi-repo.md).
    repositories: taskRepositories(db, task.repoId, task.conversationId),
  });
}

const noSuchConversation = (): DashboardError => new DashboardError(404, 'no such conversation');

function showConversation(d: DashboardDeps, c: Context, repoId: string, convId: string): Response {
  requireRepo(c, repoId, noSuchConversation);
  const conversation = getConversation(d.o.db, repoId, convId);
  const tasks = listConversationTasks(d.o.db, repoId, convId);
  if (!conversation && tasks.length === 0) throw noSuchConversation();
  return sendJson(c, { conversation, tasks: tasks.map(taskJson), totalCostUsd: conversationCost(tasks), repositories: taskRepositories(d.o.db, repoId, convId) });
}

function conversationNetwork(d: DashboardDeps, c: Context, repoId: string, convId: string): Response {
  requireRepo(c, repoId, noSuchConversation);
  const after = parseCursor(c.req.query('after'));
  if (after === undefined) throw new DashboardError(400, 'after must be a request id (a non-negative integer)');
  const limitParam = c.req.query('limit');
  const limit = limitParam ? Number(limitParam) : NETWORK_API_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > NETWORK_API_MAX) {
    throw new DashboardError(400, `limit must be an integer from 1 to ${NETWORK_API_MAX}`);
  }
  if (!conversationExists(d.o.db, repoId, convId)) throw noSuchConversation();
  const rows = listNetworkRequests(d.o.db, repoId, convId, after, limit + 1);
  const requests = rows.slice(0, limit);
  return sendJson(c, {
    requests: requests.map((r) => ({ ...r, taskUrl: `/tasks/${r.taskId}` })),
    lastId: requests.length ? requests[requests.length - 1]!.id : after,
    more: rows.length > limit,
  });
}

function listRepos(d: DashboardDeps, c: Context): Response {
  const { repoIds, shownIds, byRepo, health, counts, pending, spend } = loadRepoOverview(d);
  const visible = visibleRepos(c, shownIds);
  const repos = visible.map((id) => {
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
      spend: {
        ...(spend.get(id)?.total ?? { dayUsd: 0, monthUsd: 0 }),
        bySender: spend.get(id)?.bySender ?? [],
        limits: d.o.config.repos[id]?.budget ?? null,
      },
    };
  });
  return sendJson(c, { status: scopedStatus(c, health, visible), repos });
}

/** Mounted at `/api`. */
export function apiRoutes(d: DashboardDeps): Hono {
  return new Hono()
    .get('/tasks', (c) => listTasks(d, c))
    .get('/tasks/:id', (c) => showTask(d, c))
    .get('/conversations/:repo/:id', (c) => showConversation(d, c, c.req.param('repo'), c.req.param('id')))
    .get('/conversations/:repo/:id/network', (c) => conversationNetwork(d, c, c.req.param('repo'), c.req.param('id')))
    .get('/repos', (c) => listRepos(d, c));
}
