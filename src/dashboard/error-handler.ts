/**
 * The dashboard's one error handler and its not-found answer. A DashboardError is rendered by
 * where it was thrown: JSON on the API (/api/*, /health, /metrics), a page everywhere else, plain
 * text when it asks for that. Anything else is a bug or a database fault: logged, and answered
 * with a message that points at the log and gives away nothing.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { DashboardDeps } from './context.ts';
import { DashboardError } from './http-error.ts';
import { escapeHtml, h } from './html.ts';
import { sendJson } from './json.ts';
import { pageContext } from './render.ts';
import { layout } from './views.ts';

/** Paths whose every answer is JSON (or the metrics text), never a page. */
function isApiPath(path: string): boolean {
  return path.startsWith('/api/') || path === '/health' || path === '/metrics';
}

/** JSON for the API and for clients that do not ask for HTML (scripts, curl). */
export function wantsJson(c: Context): boolean {
  return isApiPath(c.req.path) || !(c.req.header('accept') ?? '').includes('text/html');
}

function render(d: DashboardDeps, c: Context, err: DashboardError, as: 'json' | 'html' | 'text'): Response {
  if (as === 'text') return c.text(err.message, err.status);
  if (as === 'json') return sendJson(c, err.json ?? { error: err.message }, err.status);
  const title = err.status === 404 ? 'Not found' : 'Request refused';
  const body = h`<h1>${title}</h1><p>${err.message}</p><p><a href="/">All tasks</a></p>`;
  return c.html(layout(pageContext(d, c), title, 'error', body).value, err.status);
}

export function errorHandler(d: DashboardDeps): ErrorHandler {
  return (err, c) => {
    if (err instanceof DashboardError) return render(d, c, err, err.plain ? 'text' : isApiPath(c.req.path) ? 'json' : 'html');
    d.o.log.error({ err: err.message, path: c.req.path }, 'dashboard: request failed');
    if (wantsJson(c)) return c.json({ error: 'internal error; see the daemon log' }, 500);
    return c.html(`<!doctype html><title>Error</title><p>${escapeHtml('Something went wrong; the daemon log has the details.')}</p>`, 500);
  };
}

/** A path no route answers: JSON or a page by what the client accepts (a browser's typo gets a page). */
export function notFoundHandler(d: DashboardDeps): NotFoundHandler {
  return (c) => render(d, c, new DashboardError(404, 'This page does not exist.', { json: { error: 'not found' } }), wantsJson(c) ? 'json' : 'html');
}
