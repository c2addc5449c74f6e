/**
 * Credentials can sit in a repository URL (`https://user:token@host/repo.git`). Git echoes URLs in
 * its messages, so every text that leaves this area — error messages, log fields — goes through
 * here first.
 */

// scheme://userinfo@  — userinfo is anything up to the first @ that contains no / ? # or space.
const URL_USERINFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@\s]+@/g;

/** `https://user:token@host/x.git` → `https://***@host/x.git`; text without credentials is unchanged. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, '$1***@');
}

/**
 * The secret parts of `url` (user info, raw and percent-decoded), so that they can be removed even
 * where git prints them outside a URL. Parts shorter than 4 characters are not treated as secrets.
 */
export function credentialsOf(url: string): string[] {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#@\s]+)@/.exec(url);
  if (!m || !m[1]) return [];
  const userinfo = m[1];
  const parts = new Set<string>([userinfo]);
  const colon = userinfo.indexOf(':');
  if (colon >= 0) parts.add(userinfo.slice(colon + 1));
  for (const p of [...parts]) {
    try {
      parts.add(decodeURIComponent(p));
    } catch {
      // not valid percent-encoding; the raw form is already in the set
    }
  }
  return [...parts].filter((p) => p.length >= 4);
}

/** Removes URL credentials and every known secret string from `text`. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = redactUrlCredentials(text);
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s) out = out.split(s).join('***');
  }
  return out;
}
