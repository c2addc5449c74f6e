/**
 * Credentials can sit in a repository URL (`https://user:token@host/repo.git`). Git echoes URLs in
 * its messages, so every text that leaves this area — error messages, log fields — goes through
 * here first.
 */
import { urlSecrets } from './url.ts';

// scheme://userinfo@ — userinfo runs to the *last* @ before the path (a password may hold a raw @),
// and holds no / ? # or space.
const URL_USERINFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@\s]*(?:@[^/?#@\s]*)*@/g;

/** `https://user:token@host/x.git` → `https://***@host/x.git`; text without credentials is unchanged. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, '$1***@');
}

/**
 * The secret parts of `url` (user info, password and query string, raw and percent-decoded), so
 * that they can be removed even where git prints them outside a URL. Parts shorter than 4
 * characters are not treated as secrets.
 */
export function credentialsOf(url: string): string[] {
  return urlSecrets(url);
}

/** Removes URL credentials and every known secret string from `text`. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = redactUrlCredentials(text);
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s) out = out.split(s).join('***');
  }
  return out;
}
