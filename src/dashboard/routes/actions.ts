/**
 * The one change the dashboard makes: stopping a task (`POST /api/tasks/:id/stop`). A form post
 * from the task page is answered with a redirect back to it; a script gets JSON
 * `{ ok, status, message }`, refusals included.
 */
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { getTask } from '../../store/task-queries.ts';
import { authOf } from '../auth-gate.ts';
import type { DashboardDeps } from '../context.ts';
import { DashboardError } from '../http-error.ts';
import { sendJson } from '../json.ts';
import { parseId } from '../params.ts';
import { CSRF_HEADER } from '../security.ts';
import { canStop } from '../views.ts';
import { requireRepo, requireSubmit } from '../scope-guard.ts';

function stopRefused(status: ContentfulStatusCode, message: string, taskStatus?: string): DashboardError {
  return new DashboardError(status, message, {
    json: taskStatus === undefined ? { ok: false, message } : { ok: false, status: taskStatus, message },
  });
}

function isFormPost(c: Context): boolean {
  const contentType = c.req.header('content-type') ?? '';
  return contentType.startsWith('application/x-www-form-urlencoded') || contentType.startsWith('multipart/form-data');
}

/** Same origin and the CSRF token (header, or the form's field), unless a Bearer header authenticated the request. */
async function refuseCrossSite(d: DashboardDeps, c: Context, isForm: boolean): Promise<void> {
  let presented = c.req.header(CSRF_HEADER);
  if (presented === undefined && isForm) {
    const form = await c.req.parseBody();
    presented = typeof form.csrf === 'string' ? form.csrf : undefined;
  }
  const viaBearer = authOf(c) === 'bearer';
  if (!viaBearer && (!d.security.sameOrigin(c) || !d.security.csrfValid(presented))) {
    d.o.log.warn({ origin: c.req.header('origin') ?? null, fetchSite: c.req.header('sec-fetch-site') ?? null }, 'dashboard: refused a cross-site stop request');
    throw stopRefused(403, 'cross-site request refused: reload the dashboard page and try again');
  }
}

async function stopTask(d: DashboardDeps, c: Context): Promise<Response> {
  const isForm = isFormPost(c);
  await refuseCrossSite(d, c, isForm);
  const id = parseId(c.req.param('id'));
  const task = id === undefined ? null : getTask(d.o.db, id);
  if (!task) throw stopRefused(404, 'no such task');
  requireRepo(c, task.repoId, () => stopRefused(404, 'no such task'));
  // After the scope check: only a token that may see the task learns that it exists.
  requireSubmit(c, (message) => new DashboardError(403, message, { json: { error: message } }));
  const back = (): Response => c.redirect(`/tasks/${task.id}`, 303);
  if (!canStop(task.status)) {
    if (isForm) return back();
    throw stopRefused(409, `the task is ${task.status}; only queued or running tasks can be stopped`, task.status);
  }
  let result;
  try {
    result = await d.o.actions.stopTask(task.id);
  } catch (err) {
    d.o.log.error({ task: task.id, err: (err as Error).message }, 'dashboard: stopping a task failed');
    throw stopRefused(500, 'stopping the task failed; see the daemon log', task.status);
  }
  d.o.log.info({ task: task.id, repo: task.repoId, ok: result.ok, status: result.status }, 'dashboard: stop requested');
  if (isForm) return back();
  return sendJson(c, { ok: result.ok, status: result.status, message: result.message }, result.ok ? 200 : 409);
}

/** Mounted at `/api`. */
export function actionRoutes(d: DashboardDeps): Hono {
  return new Hono().post('/tasks/:id/stop', (c) => stopTask(d, c));
}
