/**
 * Where the login form sends the visitor afterwards: a path on this site, or `/`.
 *
 * An allowlist, not a blocklist. Browsers resolve a `Location` more loosely than a server reads
 * it: they drop tabs and newlines anywhere (`/\t/evil.example` becomes `//evil.example`), strip
 * leading spaces and control characters, treat `\` as `/` in http URLs, and map some Unicode
 * look-alikes. So the value must be one `/`, not followed by `/` or `\`, and then only the
 * characters RFC 3986 allows in a path and query, with `%` only as a complete escape. Anything
 * else (a scheme, `//host`, whitespace, control or non-ASCII characters, `\`, `#`) gives `/`.
 * Percent escapes stay escaped in the header, and a browser never decodes `%2F` or `%09` back
 * into a separator, so they are harmless.
 */
const SAME_ORIGIN_PATH = /^\/(?![/\\])(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
/** Longer than any page of this dashboard; a longer value is not something it linked to. */
const MAX_NEXT_LENGTH = 2048;

export function safeNextPath(next: string | undefined): string {
  if (typeof next !== 'string' || next.length > MAX_NEXT_LENGTH || !SAME_ORIGIN_PATH.test(next)) return '/';
  return next;
}
