/** The login form and log out (only meaningful with `dashboard.auth_token`; see ../security.ts). */
import { Hono, type Context } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import type { DashboardDeps } from '../context.ts';
import { DashboardError } from '../http-error.ts';
import { loginPage } from '../login-page.ts';
import { sendHtml } from '../render.ts';
import { SESSION_COOKIE } from '../security.ts';
import { safeNextPath } from '../next-path.ts';
import { clientAddress, retryAfterSeconds } from '../auth-gate.ts';

function crossSiteRefused(): DashboardError {
  return new DashboardError(403, 'cross-site request refused', { plain: true });
}

async function logIn(d: DashboardDeps, c: Context): Promise<Response> {
  const sessions = d.security.sessions;
  if (!sessions) return c.redirect('/', 303);
  if (!d.security.sameOrigin(c)) throw crossSiteRefused();
  const form = await c.req.parseBody();
  const next = safeNextPath(typeof form.next === 'string' ? form.next : undefined);
  const client = clientAddress(c);
  // Before the token is compared: a right guess inside the window is refused like a wrong one.
  const wait = d.throttle.retryAfterMs(client);
  if (wait > 0) {
    const seconds = retryAfterSeconds(wait);
    c.header('Retry-After', String(seconds));
    return sendHtml(c, loginPage(`Too many wrong tokens from your address. Try again in ${seconds} seconds.`, next), 429);
  }
  const token = typeof form.token === 'string' ? form.token : '';
  if (!d.security.checkToken(token)) {
    d.throttle.failed(client);
    d.o.log.warn({ client }, 'dashboard: failed login');
    return sendHtml(c, loginPage('That token is not right.', next), 401);
  }
  d.throttle.succeeded(client);
  setCookie(c, SESSION_COOKIE, sessions.start(), {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    secure: new URL(c.req.url).protocol === 'https:',
    // The browser may drop it when the server would: the session's hard end.
    maxAge: Math.floor(sessions.policy.lifetimeMs / 1000),
  });
  return c.redirect(next, 303);
}

async function logOut(d: DashboardDeps, c: Context): Promise<Response> {
  const form = await c.req.parseBody();
  if (!d.security.sameOrigin(c) || !d.security.csrfValid(typeof form.csrf === 'string' ? form.csrf : undefined)) {
    throw crossSiteRefused();
  }
  // Ended on the server, so a copy of the cookie (another tab, a stolen one) is worthless too.
  d.security.sessions?.end(getCookie(c, SESSION_COOKIE));
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
  return c.redirect('/login', 303);
}

/** `/login` and `/logout`. */
export function loginRoutes(d: DashboardDeps): Hono {
  return new Hono()
    .get('/login', (c) => {
      if (!d.security.tokenRequired) return c.redirect('/', 303);
      return sendHtml(c, loginPage(null, safeNextPath(c.req.query('next'))));
    })
    .post('/login', (c) => logIn(d, c))
    .post('/logout', (c) => logOut(d, c));
}
