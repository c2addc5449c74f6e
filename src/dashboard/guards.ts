/**
 * What runs before every route, in this order: the body limit (so no route, public or not, ever
 * reads more), the Host check, who is asking (with the login throttle), and the token wall.
 */
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { authGate, authOf } from './auth-gate.ts';
import { wantsJson } from './error-handler.ts';
import { isSubmitPath } from './submit-request.ts';
import { DashboardError } from './http-error.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { loginPage } from './login-page.ts';
import { safeNextPath } from './next-path.ts';
import { sendHtml } from './render.ts';
import type { DashboardSecurity } from './security.ts';
import type { HostRouting } from './host-scope.ts';

/**
 * The largest request body any route takes but the task API's writes. The other bodies are the
 * login form (a token and a path), log out and stop (a CSRF token): 4 KiB is generous, and /login
 * is public, so without a limit anyone could make the daemon buffer whatever they send.
 */
export const MAX_BODY_BYTES = 4096;

/**
 * The largest body of `POST /api/tasks` and `…/messages`: a prompt and attachments in base64, room
 * for a mail of the default `limits.max_message_bytes` (25 MiB, a third more as base64). The
 * repository's own mail limits are checked on the decoded task (submit-rules.ts). Only routes behind
 * the token read a body this large: the auth gate answers before anything reads it.
 */
export const MAX_SUBMIT_BODY_BYTES = 36 * 1024 * 1024;

function tooLarge(limit: number) {
  return (c: Context) =>
    wantsJson(c)
      ? c.json({ error: `request body too large (the limit is ${limit} bytes)` }, 413)
      : c.text(`Request body too large: the dashboard accepts at most ${limit} bytes.`, 413);
}

/** Paths reachable without the token: the login form, its CSS/JS, and the health probe (which then says only up/down). */
function isPublicPath(path: string): boolean {
  return path === '/login' || path === '/health' || path.startsWith('/static/');
}

export function installGuards(app: Hono, security: DashboardSecurity, throttle: LoginThrottle, hosts: HostRouting): void {
  // Framed by Content-Length or chunked alike.
  const small = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge(MAX_BODY_BYTES) });
  const submit = bodyLimit({ maxSize: MAX_SUBMIT_BODY_BYTES, onError: tooLarge(MAX_SUBMIT_BODY_BYTES) });
  app.use('*', (c, next) => (isSubmitPath(c.req.method, c.req.path) ? submit(c, next) : small(c, next)));

  app.use('*', async (c, next) => {
    // Every route, /health and /metrics included: a DNS-rebinding page reads those as well as any other.
    if (!security.hostAllowed(c)) {
      throw new DashboardError(
        421,
        'This dashboard answers only to its own host names. Open it by IP address or localhost, ' +
          'or set dashboard.base_url (or dashboard.auth_token) in the server configuration.',
        { plain: true },
      );
    }
    return next();
  });
  app.use('*', authGate(security, throttle, hosts));
  app.use('*', async (c, next) => {
    const path = c.req.path;
    if (isPublicPath(path) || authOf(c) !== null) return next();
    c.header('WWW-Authenticate', 'Bearer realm="airut-dashboard"');
    if (wantsJson(c)) return c.json({ error: 'unauthorized' }, 401);
    // The path as the browser sent it (still percent-encoded), so that safeNextPath accepts it on the way back.
    const asked = new URL(c.req.url);
    return sendHtml(c, loginPage(null, c.req.method === 'GET' ? safeNextPath(asked.pathname + asked.search) : '/'), 401);
  });
}
