/**
 * Who is asking: decided once per request, before any route runs, and kept on the context.
 *
 * Every request that presents the token (an `Authorization` header, on any route, public ones
 * included: /health answers more to a good token) passes the login throttle first, so no route is
 * an unthrottled oracle for guessing it. A session cookie is not throttled: it is a random 256-bit
 * id, not a guess at the token. Only the dashboard's own token clears a client's failures: an API
 * token in hand must not buy unlimited guesses at the admin token.
 *
 * The gate also sets the request's scope (access-scope.ts): the token's, narrowed to the
 * repositories of the Host the request names when `dashboard.hosts` is set (host-scope.ts); a Host
 * that setting does not know is answered 404 here, before any route.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { LoginThrottle } from './login-throttle.ts';
import type { AuthVia, DashboardSecurity } from './security.ts';
import { narrowScope, type HostRouting } from './host-scope.ts';
import { DashboardError } from './http-error.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** How the request proved itself, or null (see DashboardSecurity.authenticate). */
    auth: AuthVia | null;
  }
}

/** The socket's peer address; `unknown` when there is no socket (app.request in tests). */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The result of the gate for this request. */
export function authOf(c: Context): AuthVia | null {
  return c.get('auth') ?? null;
}

export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Sets `auth` and `scope` on the context; answers 429 to a throttled client presenting a token. */
export function authGate(security: DashboardSecurity, throttle: LoginThrottle, hosts: HostRouting): MiddlewareHandler {
  return async (c, next) => {
    // The same test as authenticate(): an empty header presents nothing.
    const presentsToken = Boolean(c.req.header('authorization')) && security.tokenRequired;
    const client = clientAddress(c);
    if (presentsToken) {
      const wait = throttle.retryAfterMs(client);
      if (wait > 0) {
        const seconds = retryAfterSeconds(wait);
        c.header('Retry-After', String(seconds));
        return c.json({ error: `too many failed attempts from your address; try again in ${seconds} s` }, 429);
      }
    }
    const auth = security.authenticate(c);
    if (presentsToken) {
      if (auth === null) throttle.failed(client);
      else if (auth.scope.admin) throttle.succeeded(client);
    }
    const view = hosts.view(c.req.header('host'));
    // Static files are the same for every host; everything else of an unknown host does not exist.
    if (view.kind === 'unknown' && !c.req.path.startsWith('/static/')) {
      throw new DashboardError(404, 'This page does not exist.', { json: { error: 'not found' } });
    }
    c.set('auth', auth?.via ?? null);
    if (auth) c.set('scope', view.kind === 'repos' ? narrowScope(auth.scope, view.repos) : auth.scope);
    return next();
  };
}
