/**
 * The web dashboard: server-rendered pages, a JSON API, live updates over server-sent events,
 * /health, /metrics and the stop action. It reads the database through the main thread's
 * connection and writes only its own login sessions there (sessions.ts); the one change it can
 * make to tasks, stopping one, goes through `actions`.
 * See docs/dashboard.md for every page, endpoint and metric.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Hono, type Context } from 'hono';
import { serve } from '@hono/node-server';
import { bodyLimit } from 'hono/body-limit';
import type { ServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import { registerApi } from './api.ts';
import type { DashboardDeps } from './context.ts';
import { escapeHtml } from './html.ts';
import { LiveHub } from './live.ts';
import { MicroCache } from './cache.ts';
import { notFoundPage, registerPages, sendHtml } from './pages.ts';
import { loginPage, registerLogin } from './login.ts';
import { DashboardSecurity, hostName, isLoopbackHost, securityHeaders } from './security.ts';
import { safeNextPath } from './next-path.ts';
import { authGate, authOf } from './auth-gate.ts';
import { LoginThrottle } from './login-throttle.ts';
import { DashboardSessions } from './sessions.ts';
import { registerStreams } from './stream.ts';

export interface DashboardActions {
  /** Stops a running task (container stopped, status → cancelled, user gets a reply) or removes a queued one. */
  stopTask(taskId: number): Promise<{ readonly ok: boolean; readonly status: string; readonly message: string }>;
}
/** Network log rows up to `lastId` were stored for a conversation (src/store/network-log.ts). */
export interface NetworkFeedEvent {
  readonly repoId: string;
  readonly conversationId: string;
  readonly taskId: number;
  readonly lastId: number;
}
export interface LiveFeed {            // a node:events EventEmitter satisfies this
  on(event: 'task', listener: (taskId: number) => void): unknown;           // a task row changed (created, status, sandbox flag, etc.)
  on(event: 'task-event', listener: (e: { taskId: number; eventId: number }) => void): unknown; // a task_events row was appended
  on(event: 'network', listener: (e: NetworkFeedEvent) => void): unknown;  // network_requests rows were appended
  off(event: string, listener: (...args: any[]) => void): unknown;
}
export interface DashboardOptions {
  readonly config: ServerConfig;       // repos (ids, fromAddress), dashboard settings
  readonly db: Db;                     // the main thread's connection (better-sqlite3, WAL); read-only use
  readonly actions: DashboardActions;
  readonly feed: LiveFeed;
  readonly log: Logger;
  /** Extra health inputs beyond listener state, e.g. a database/disk error to surface. */
  readonly healthProblems?: () => ReadonlyArray<{ readonly component: string; readonly message: string }>;
  /** The clock of durations, session expiry and the login throttle; Date.now unless a test moves it. */
  readonly now?: () => number;
}
export interface RunningDashboard { readonly url: string; close(): Promise<void> }

interface StaticFile {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

const STATIC_TYPES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Read once: the set is fixed, so no request path ever reaches the file system. */
function loadStatic(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [name, type] of Object.entries(STATIC_TYPES)) {
    const body = readFileSync(new URL(`./static/${name}`, import.meta.url), 'utf8');
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return files;
}

/**
 * The largest request body any route takes. The only bodies are the login form (a token and a
 * path), log out and stop (a CSRF token): 4 KiB is generous, and /login is public, so without a
 * limit anyone could make the daemon buffer whatever they send.
 */
export const MAX_BODY_BYTES = 4096;

/** Paths reachable without the token: the login form, its CSS/JS, and the health probe (which then says only up/down). */
function isPublicPath(path: string): boolean {
  return path === '/login' || path === '/health' || path.startsWith('/static/');
}

function wantsJson(c: Context): boolean {
  const path = c.req.path;
  return path.startsWith('/api/') || path === '/metrics' || !(c.req.header('accept') ?? '').includes('text/html');
}

export function createDashboardApp(o: DashboardOptions): Hono {
  const dash = o.config.global.dashboard;
  const allowedHosts = new Set<string>();
  const extraOrigins = new Set<string>();
  const configuredHost = hostName(dash.host.includes(':') && !dash.host.startsWith('[') ? `[${dash.host}]` : dash.host);
  if (configuredHost && configuredHost !== '0.0.0.0' && configuredHost !== '::') allowedHosts.add(configuredHost);
  if (dash.baseUrl) {
    try {
      const u = new URL(dash.baseUrl);
      allowedHosts.add(u.hostname.toLowerCase());
      extraOrigins.add(u.origin);
    } catch {
      // normalizeBaseUrl already refused anything unparsable
    }
  }
  const now = o.now ?? (() => Date.now());
  const sessions = dash.authToken
    ? new DashboardSessions(o.db, dash.authToken, { idleMs: dash.sessionIdleSeconds * 1000, lifetimeMs: dash.sessionLifetimeSeconds * 1000 }, now)
    : null;
  const security = new DashboardSecurity(dash.authToken, allowedHosts, extraOrigins, sessions);
  const deps: DashboardDeps = {
    o,
    security,
    throttle: new LoginThrottle(now),
    hub: new LiveHub(o.feed, o.db, o.log),
    since: now(),
    streams: new Set(),
    now,
    listCache: new MicroCache(),
  };
  const statics = loadStatic();

  const app = new Hono();
  app.use('*', securityHeaders());
  installGuards(app, security, deps.throttle);

  app.get('/static/:name', (c) => {
    const f = statics.get(c.req.param('name'));
    if (!f) return c.text('not found', 404);
    if (c.req.header('if-none-match') === f.etag) return c.body(null, 304, { ETag: f.etag, 'Cache-Control': 'no-cache' });
    return c.body(f.body, 200, { 'Content-Type': f.type, ETag: f.etag, 'Cache-Control': 'no-cache' });
  });

  registerApi(app, deps);
  registerStreams(app, deps);
  registerPages(app, deps);
  registerLogin(app, deps);

  app.notFound((c) => (wantsJson(c) ? c.json({ error: 'not found' }, 404) : notFoundPage(deps, c, 'This page does not exist.')));
  app.onError((err, c) => {
    o.log.error({ err: err.message, path: c.req.path }, 'dashboard: request failed');
    if (wantsJson(c)) return c.json({ error: 'internal error; see the daemon log' }, 500);
    return c.html(`<!doctype html><title>Error</title><p>${escapeHtml('Something went wrong; the daemon log has the details.')}</p>`, 500);
  });
  appStreams.set(app, deps.streams);
  return app;
}

/**
 * What runs before every route, in this order: the body limit (so no route, public or not, ever
 * reads more), the Host check, who is asking (with the login throttle), and the token wall.
 */
function installGuards(app: Hono, security: DashboardSecurity, throttle: LoginThrottle): void {
  // Framed by Content-Length or chunked alike.
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        wantsJson(c)
          ? c.json({ error: `request body too large (the limit is ${MAX_BODY_BYTES} bytes)` }, 413)
          : c.text(`Request body too large: the dashboard accepts at most ${MAX_BODY_BYTES} bytes.`, 413),
    }),
  );

  app.use('*', async (c, next) => {
    // Every route, /health and /metrics included: a DNS-rebinding page reads those as well as any other.
    if (!security.hostAllowed(c)) {
      return c.text(
        'This dashboard answers only to its own host names. Open it by IP address or localhost, ' +
          'or set dashboard.base_url (or dashboard.auth_token) in the server configuration.',
        421,
      );
    }
    return next();
  });
  app.use('*', authGate(security, throttle));
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

/** Lets startDashboard end the open live streams of an app it serves. */
const appStreams = new WeakMap<Hono, Set<() => void>>();

export async function startDashboard(o: DashboardOptions): Promise<RunningDashboard> {
  const { host, port, authToken } = o.config.global.dashboard;
  const app = createDashboardApp(o);
  const log = o.log.child({ component: 'dashboard' });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s as Server)) as Server;
    s.once('error', reject);
  });
  server.on('error', (err) => log.error({ err: err.message }, 'dashboard server error'));
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  if (!isLoopbackHost(host) && !authToken) {
    log.warn(
      { host, port: addr.port },
      'the dashboard listens on a non-loopback address without dashboard.auth_token: anyone who can reach it sees every task and can stop them',
    );
  }
  log.info({ url, auth: authToken ? 'token' : 'none' }, 'dashboard listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    close(): Promise<void> {
      closing ??= (async () => {
        for (const end of [...(appStreams.get(app) ?? [])]) end();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // SSE responses end within a tick once their streams are told to; idle keep-alive sockets now.
          setImmediate(() => server.closeIdleConnections());
          setTimeout(() => server.closeAllConnections(), 2_000).unref();
        });
      })();
      return closing;
    },
  };
}
