/**
 * A webhook URL: what makes one acceptable, and the part of it that may be shown. Only the origin
 * is ever logged or displayed: receivers often carry a token in the path or query (chat services'
 * incoming hooks do), and that is as secret as the signing key.
 */

/** Why `url` cannot be a webhook's URL, or null. */
export function webhookUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return 'must be an absolute http or https URL, like https://ci.example.com/hooks/airut';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `must be an http or https URL, not ${u.protocol.replace(/:$/, '')}`;
  if (u.username !== '' || u.password !== '') {
    return 'must not contain a user name or password: receivers authenticate the request by its X-Airut-Signature (see docs/webhooks.md)';
  }
  return null;
}

/** `https://host:port` of the URL, for logs and summaries; `(invalid URL)` when it does not parse. */
export function webhookOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
