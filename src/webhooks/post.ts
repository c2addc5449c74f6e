/**
 * One webhook attempt: a POST with a deadline, redirects not followed. The URL is the operator's,
 * so the request goes straight out, not through any task's network sandbox.
 *
 * node:http(s), not fetch: fetch refuses the "bad ports" of browsers (6000, 6665–6669, 10080, …),
 * which an operator's receiver may well use. A redirect counts as a failure: following it would
 * send the signed body wherever the receiver points, and a moved endpoint is a configuration
 * change to make, not to guess.
 */
import http from 'node:http';
import https from 'node:https';

export type AttemptResult =
  | { readonly ok: true; readonly status: number }
  /** One line for the store and the log; never holds the URL's path or query (they may carry a token). */
  | { readonly ok: false; readonly error: string };

export function postWebhook(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ ok: false, error: 'the webhook URL does not parse' });
      return;
    }
    const payload = Buffer.from(body, 'utf8');
    const client = target.protocol === 'https:' ? https : http;
    // One deadline for the whole exchange: connecting, sending, and the answer's head and body.
    const timer = setTimeout(() => req.destroy(new DeadlineError()), timeoutMs);
    const done = (r: AttemptResult) => {
      clearTimeout(timer);
      resolve(r);
    };
    const req = client.request(target, { method: 'POST', headers: { ...headers, 'Content-Length': String(payload.length) }, agent: false }, (res) => {
      // The status decides; the answer's body is not read (a receiver that streams one forever must
      // not hold the attempt), and the connection, never reused, is closed.
      done(verdict(res.statusCode ?? 0, res.statusMessage ?? ''));
      res.destroy();
    });
    req.on('error', (err) => done({ ok: false, error: networkError(err, timeoutMs) }));
    req.end(payload);
  });
}

class DeadlineError extends Error {}

function verdict(status: number, statusText: string): AttemptResult {
  if (status >= 200 && status < 300) return { ok: true, status };
  if (status >= 300 && status < 400) return { ok: false, error: `HTTP ${status}: redirect not followed; point the webhook URL at the final address` };
  return { ok: false, error: `HTTP ${status}${statusText ? ` ${statusText}` : ''}` };
}

/** Node's socket errors name the host and port at most, never the path. */
function networkError(err: unknown, timeoutMs: number): string {
  if (err instanceof DeadlineError) return `no answer within ${timeoutMs} ms`;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : null;
  const message = typeof e.message === 'string' ? e.message : String(err);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}
