/** Answering with a page: the per-request facts every page's layout needs, and the HTML response. */
import type { Context } from 'hono';
import type { DashboardDeps } from './context.ts';
import { authOf } from './auth-gate.ts';
import type { SafeHtml } from './html.ts';
import type { PageContext } from './views.ts';

export function pageContext(d: DashboardDeps, c: Context): PageContext {
  return { csrfToken: d.security.csrfToken, canLogOut: d.security.tokenRequired && authOf(c) === 'cookie' };
}

export function sendHtml(c: Context, body: SafeHtml, status: 200 | 401 | 403 | 404 | 400 | 429 = 200): Response {
  return c.html(body.value, status);
}
