/** The login form (only shown with `dashboard.auth_token`; see security.ts): its own route and the token wall both render it. */
import { h, type SafeHtml } from './html.ts';
import { layout } from './views.ts';

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
