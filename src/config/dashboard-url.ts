/**
 * `dashboard.base_url` as links in replies need it: a full http(s) URL without a trailing slash.
 * The specification's own example writes a bare host (`dashboard.example.com`), so a value
 * without a scheme is taken to mean https.
 */
export function normalizeBaseUrl(value: string): string | null {
  const trimmed = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return url.href.replace(/\/+$/, '');
}
