/**
 * Who may see the dashboard and who may change something through it.
 *
 * - Security headers on every response (CSP without inline script, no framing, no sniffing, no referrer).
 * - Optional token (`dashboard.auth_token`): `Authorization: Bearer <token>`, or the session cookie
 *   the login form sets (a random session id that expires and that log out ends; see sessions.ts).
 *   Comparisons are constant-time; guessing is slowed per client (login-throttle.ts).
 * - API tokens (`airut token create`, api-token-auth.ts) as `Authorization: Bearer`: a scope of
 *   repositories, with or without the right to submit. Without `dashboard.auth_token` the dashboard
 *   is open, and an API token presented still narrows what its bearer sees: it never widens.
 *   Only the dashboard's own token logs in (the login form and its cookie are the operator's).
 * - Changes (stop, logout) need a same-origin request (Origin / Sec-Fetch-Site) and the
 *   per-process CSRF token that pages carry in `data-csrf`. A request authenticated by a Bearer
 *   header is exempt: a browser never attaches that header cross-site on its own.
 * - Without a token, the Host header must name this machine (an IP literal, localhost, the
 *   configured host or base_url's host): this stops DNS-rebinding pages from reading or driving
 *   an open dashboard through the visitor's browser.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { DashboardSessions } from './sessions.ts';
import { FULL_ACCESS, type AccessScope } from './access-scope.ts';
import type { ApiTokenAuth } from './api-token-auth.ts';
import { DOWNLOAD_CSP } from './file-download.ts';

export const SESSION_COOKIE = 'airut_session';
export const CSRF_HEADER = 'x-csrf-token';

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    // A file download keeps its own, stricter policy (file-download.ts); everything else gets the pages'.
    if (c.res.headers.get('Content-Security-Policy') !== DOWNLOAD_CSP) c.res.headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    c.res.headers.set('X-Frame-Options', 'DENY');
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
    c.res.headers.set('Referrer-Policy', 'no-referrer');
    c.res.headers.set('Cross-Origin-Opener-Policy', 'same-origin');
    c.res.headers.set('Cross-Origin-Resource-Policy', 'same-origin');
    if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of two strings of any lengths (both are hashed to 32 bytes first). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export type AuthVia = 'none' | 'bearer' | 'cookie';

/** How a request proved itself and what that lets it see and do. */
export interface Authenticated {
  readonly via: AuthVia;
  readonly scope: AccessScope;
}

/** The token of an `Authorization: Bearer` header; null when there is no such header or it is malformed. */
function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1]!.trim() : null;
}

export class DashboardSecurity {
  /** Per process: a page loaded before a restart must be reloaded to stop a task. */
  readonly csrfToken = randomBytes(32).toString('base64url');

  constructor(
    private readonly authToken: string | null,
    private readonly allowedHosts: ReadonlySet<string>,
    private readonly extraOrigins: ReadonlySet<string>,
    /** Present exactly when a token is configured. */
    readonly sessions: DashboardSessions | null,
    /** API tokens; null where the dashboard has no database to read them from (never in the daemon). */
    private readonly apiTokens: ApiTokenAuth | null = null,
  ) {}

  get tokenRequired(): boolean {
    return this.authToken !== null;
  }

  checkToken(candidate: string): boolean {
    return this.authToken !== null && safeEqual(candidate, this.authToken);
  }

  /**
   * How the request proved itself and its scope, or null when it did not (and a token is required).
   * Called once per request, by the auth gate; routes read the result with authOf(c) and scopeOf(c).
   */
  authenticate(c: Context): Authenticated | null {
    const header = c.req.header('authorization');
    const bearer = bearerToken(header);
    if (!this.authToken) {
      const scoped = bearer === null ? null : this.apiTokens?.scopeFor(bearer);
      return scoped ? { via: 'bearer', scope: scoped } : { via: 'none', scope: FULL_ACCESS };
    }
    if (header) {
      // A wrong header is a failure even if a cookie is present: don't let one mask the other.
      if (bearer === null) return null;
      if (this.checkToken(bearer)) return { via: 'bearer', scope: FULL_ACCESS };
      const scoped = this.apiTokens?.scopeFor(bearer);
      return scoped ? { via: 'bearer', scope: scoped } : null;
    }
    return this.sessions?.check(getCookie(c, SESSION_COOKIE)) ? { via: 'cookie', scope: FULL_ACCESS } : null;
  }

  /** False for a Host that is neither this machine nor a configured name (see the module comment). */
  hostAllowed(c: Context): boolean {
    if (this.authToken) return true;
    const host = c.req.header('host');
    if (!host) return true; // HTTP/1.0 or app.request(): no browser sends a request without Host
    const name = hostName(host);
    if (name === null) return false;
    return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || this.allowedHosts.has(name);
  }

  /** The request comes from a page of this dashboard (not another site). */
  sameOrigin(c: Context): boolean {
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') return false;
    const origin = c.req.header('origin');
    // `Origin: null` is what a browser sends for a form posted from a page of ours, because every
    // page says `Referrer-Policy: no-referrer`; only `Sec-Fetch-Site` (which no page can set) then
    // tells it from a sandboxed or data: page, which a browser marks cross-site.
    if (origin === undefined || origin === 'null') return site === 'same-origin';
    const self = new URL(c.req.url).origin;
    return origin === self || this.extraOrigins.has(origin);
  }

  csrfValid(presented: string | undefined): boolean {
    return typeof presented === 'string' && presented !== '' && safeEqual(presented, this.csrfToken);
  }
}

/** `example.com:5200` → `example.com`, `[::1]:80` → `::1`; lowercased. */
export function hostName(hostHeader: string): string | null {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : null;
  }
  const colon = h.lastIndexOf(':');
  const name = colon >= 0 ? h.slice(0, colon) : h;
  return /^[a-z0-9.-]+$/.test(name) ? name : null;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}
