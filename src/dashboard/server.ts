/**
 * The web dashboard: server-rendered pages, a JSON API, live updates over server-sent events,
 * /health, /metrics and the stop action. It reads the database through the main thread's
 * connection and writes only its own login sessions and API tokens' last use there (sessions.ts,
 * api-token-auth.ts); the one change it can
 * make to tasks, stopping one, goes through `actions`.
 * See docs/dashboard.md for every page, endpoint and metric.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { DashboardConfig } from '../config/types.ts';
import type { DashboardDeps } from './context.ts';
import { errorHandler, notFoundHandler } from './error-handler.ts';
import { installGuards } from './guards.ts';
import { LiveHub } from './live.ts';
import { MicroCache } from './cache.ts';
import { MetricsBodyCache } from './metrics-cache.ts';
import { LoginThrottle } from './login-throttle.ts';
import type { DashboardOptions, RunningDashboard } from './options.ts';
import { DashboardSecurity, hostName, isLoopbackHost, securityHeaders } from './security.ts';
import { DashboardSessions } from './sessions.ts';
import { ApiTokenAuth } from './api-token-auth.ts';
import { HostRouting } from './host-scope.ts';
import { actionRoutes } from './routes/actions.ts';
import { apiRoutes } from './routes/api.ts';
import { fileRoutes } from './routes/files.ts';
import { loginRoutes } from './routes/login.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { opsRoutes } from './routes/ops.ts';
import { overviewRoutes } from './routes/overview.ts';
import { pageRoutes } from './routes/pages.ts';
import { staticRoutes } from './routes/static.ts';
import { streamRoutes } from './routes/streams.ts';
import { submitRoutes } from './routes/submit.ts';

export type { DashboardActions, DashboardOptions, RunningDashboard } from './options.ts';
export { MAX_BODY_BYTES } from './guards.ts';

/** The host names a Host header may carry (beyond IP literals and localhost), and the origins besides the dashboard's own. */
function knownNames(dash: DashboardConfig): { hosts: Set<string>; origins: Set<string> } {
  const hosts = new Set<string>();
  const origins = new Set<string>();
  const configuredHost = hostName(dash.host.includes(':') && !dash.host.startsWith('[') ? `[${dash.host}]` : dash.host);
  if (configuredHost && configuredHost !== '0.0.0.0' && configuredHost !== '::') hosts.add(configuredHost);
  if (dash.baseUrl) {
    try {
      const u = new URL(dash.baseUrl);
      hosts.add(u.hostname.toLowerCase());
      origins.add(u.origin);
    } catch {
      // normalizeBaseUrl already refused anything unparsable
    }
  }
  // The names of dashboard.hosts are this dashboard's own too (a DNS-rebinding page cannot use them).
  for (const name of Object.keys(dash.hosts ?? {})) hosts.add(name);
  return { hosts, origins };
}

function buildDeps(o: DashboardOptions): DashboardDeps {
  const dash = o.config.global.dashboard;
  const { hosts, origins } = knownNames(dash);
  const now = o.now ?? (() => Date.now());
  const sessions = dash.authToken
    ? new DashboardSessions(o.db, dash.authToken, { idleMs: dash.sessionIdleSeconds * 1000, lifetimeMs: dash.sessionLifetimeSeconds * 1000 }, now)
    : null;
  const apiTokens = new ApiTokenAuth(o.db, () => Object.keys(o.config.repos), now);
  return {
    o,
    security: new DashboardSecurity(dash.authToken, hosts, origins, sessions, apiTokens),
    throttle: new LoginThrottle(now),
    hub: new LiveHub(o.feed, o.db, o.log),
    since: now(),
    streams: new Set(),
    now,
    listCache: new MicroCache(),
    metricsCache: new MetricsBodyCache(o.db),
  };
}

/**
 * The guards (guards.ts) run before every route; each area is a sub-app of its own (routes/);
 * a refused request throws a DashboardError, which the one error handler renders.
 */
export function createDashboardApp(o: DashboardOptions): Hono {
  const deps = buildDeps(o);
  const app = new Hono();
  app.use('*', securityHeaders());
  const dash = o.config.global.dashboard;
  const baseHost = dash.baseUrl ? new URL(dash.baseUrl).hostname.toLowerCase() : null;
  installGuards(app, deps.security, deps.throttle, new HostRouting(dash.hosts, baseHost));
  app
    .route('/static', staticRoutes())
    .route('/api/stream', streamRoutes(deps))
    .route('/api', apiRoutes(deps))
    .route('/api', actionRoutes(deps))
    .route('/api', submitRoutes(deps))
    .route('/api', openApiRoutes())
    .route('/', opsRoutes(deps))
    .route('/', fileRoutes(deps))
    .route('/', pageRoutes(deps))
    .route('/', overviewRoutes(deps))
    .route('/', loginRoutes(deps));
  app.notFound(notFoundHandler(deps));
  app.onError(errorHandler(deps));
  appStreams.set(app, deps.streams);
  return app;
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
