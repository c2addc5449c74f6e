/**
 * One webhook attempt: a POST with a deadline, redirects not followed. The URL is the operator's,
 * so the request goes straight out, not through any task's network sandbox. A redirect counts as
 * a failure: following it would send the signed body wherever the receiver points, and a moved
 * endpoint is a configuration change to make, not to guess.
 */

export type AttemptResult =
  | { readonly ok: true; readonly status: number }
  /** One line for the store and the log; never holds the URL's path or query (they may carry a token). */
  | { readonly ok: false; readonly error: string };

export async function postWebhook(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<AttemptResult> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    return { ok: false, error: networkError(err, timeoutMs).replaceAll(url, originOf(url)) };
  }
  // The answer's body is not used; reading it to the end frees the connection, within the same deadline.
  await res.body?.cancel().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  if (res.status >= 300 && res.status < 400) return { ok: false, error: `HTTP ${res.status}: redirect not followed; point the webhook URL at the final address` };
  return { ok: false, error: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}` };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(the webhook URL)';
  }
}

function networkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const code = typeof e.cause?.code === 'string' ? e.cause.code : null;
  const detail = typeof e.cause?.message === 'string' ? e.cause.message : typeof e.message === 'string' ? e.message : String(err);
  // undici names the host and port at most; an unparsable URL is echoed whole, so the caller hides it.
  return code && !detail.includes(code) ? `${code} ${detail}` : detail;
}
