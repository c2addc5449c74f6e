/** The login form and log out (only meaningful with `dashboard.auth_token`; see security.ts). */
import type { Hono } from 'hono';
import { getCookie, setCookie, deleteCookie } from 'hono/cookie';
import { h, type SafeHtml } from './html.ts';
import type { DashboardDeps } from './context.ts';
import { layout } from './views.ts';
import { sendHtml } from './pages.ts';
import { SESSION_COOKIE } from './security.ts';
import { safeNextPath } from './next-path.ts';
import { clientAddress, retryAfterSeconds } from './auth-gate.ts';

export function loginPage(message: string | null, next: string): SafeHtml {
  return layout(
    null,
    'Log in',
    'login',
    h`<section class="login"><h1>airut dashboard</h1>
<p>This dashboard needs its access token (<code>dashboard.auth_token</code> in the server configuration).</p>
${message ? h`<p class="error-line" role="alert">${message}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="next" value="${next}">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
</form></section>`,
  );
}

export function registerLogin(app: Hono, d: DashboardDeps): void {
  app.get('/login', (c) => {
    if (!d.security.tokenRequired) return c.redirect('/', 303);
    return sendHtml(c, loginPage(null, safeNextPath(c.req.query('next'))));
  });

  app.post('/login', async (c) => {
    const sessions = d.security.sessions;
    if (!sessions) return c.redirect('/', 303);
    if (!d.security.sameOrigin(c)) return c.text('cross-site request refused', 403);
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
  });

  app.post('/logout', async (c) => {
    const form = await c.req.parseBody();
    if (!d.security.sameOrigin(c) || !d.security.csrfValid(typeof form.csrf === 'string' ? form.csrf : undefined)) {
      return c.text('cross-site request refused', 403);
    }
    // Ended on the server, so a copy of the cookie (another tab, a stolen one) is worthless too.
    d.security.sessions?.end(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });
}
