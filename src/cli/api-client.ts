/**
 * The `airut submit` / `airut logs` side of the dashboard's JSON API: requests with the bearer
 * token, and the API's failures turned into errors a person can act on. Node's own fetch; no
 * timeout on the event stream (it lasts as long as the task), a short one on everything else.
 */
import { AirutError } from '../errors.ts';

export interface ApiTarget {
  /** The dashboard's address, without a trailing slash. */
  readonly baseUrl: string;
  readonly token: string | null;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** The API answered with an error status; `status` is the HTTP one. */
export class ApiRefusedError extends AirutError {
  readonly status: number;
  constructor(status: number, message: string) {
    super('API_REFUSED', message);
    this.status = status;
  }
}

/** The dashboard could not be reached at all. */
export class ApiUnreachableError extends AirutError {
  constructor(message: string, cause: unknown) {
    super('API_UNREACHABLE', message, { cause });
  }
}

/** Why a fetch failed, from undici's cause chain (ECONNREFUSED, ENOTFOUND, a timeout). */
function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (cause instanceof Error) return 'code' in cause && typeof cause.code === 'string' ? `${cause.code}: ${cause.message}` : cause.message;
  return String(cause);
}

function refusal(status: number, serverMessage: string, hasToken: boolean, what: string): ApiRefusedError {
  if (status === 401) {
    return new ApiRefusedError(
      401,
      hasToken
        ? 'the dashboard refused the token (HTTP 401): check AIRUT_TOKEN or --token-file (dashboard.auth_token, or a token from `airut token create`)'
        : 'the dashboard needs a token (HTTP 401): set AIRUT_TOKEN or pass --token-file',
    );
  }
  if (status === 404) return new ApiRefusedError(404, `${what}: not found (HTTP 404: ${serverMessage})`);
  return new ApiRefusedError(status, `${what}: the dashboard answered HTTP ${status}: ${serverMessage}`);
}

async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: a proxy's page, say
  }
  return text.trim().slice(0, 300) || res.statusText || 'no message';
}

export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  /**
   * An absolute URL for a path the API returned (`/tasks/12`) or one of its routes. Appended to the
   * base rather than resolved against it, so that a dashboard behind a proxy under a path prefix
   * (`https://host/airut`) is reached there.
   */
  url(path: string): string {
    return /^https?:\/\//.test(path) ? path : this.target.baseUrl + (path.startsWith('/') ? path : `/${path}`);
  }

  getJson<T>(path: string, what: string): Promise<T> {
    return this.json<T>(path, what, { method: 'GET' });
  }

  postJson<T>(path: string, body: unknown, what: string): Promise<T> {
    return this.json<T>(path, what, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  }

  /** Opens an event stream; the caller reads `body` until it ends or `signal` aborts it. */
  async openStream(path: string, what: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const res = await this.send(path, what, { method: 'GET', headers: { accept: 'text/event-stream' }, signal });
    if (!res.body) throw new ApiRefusedError(res.status, `${what}: the dashboard sent no stream`);
    return res.body;
  }

  private async json<T>(path: string, what: string, init: RequestInit): Promise<T> {
    const res = await this.send(path, what, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiRefusedError(res.status, `${what}: the answer is not JSON (is ${this.target.baseUrl} the airut dashboard?)`);
    }
  }

  private async send(path: string, what: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('accept', headers.get('accept') ?? 'application/json');
    if (this.target.token) headers.set('authorization', `Bearer ${this.target.token}`);
    let res: Response;
    try {
      res = await fetch(this.url(path), { ...init, headers });
    } catch (err) {
      throw new ApiUnreachableError(
        `cannot reach the dashboard at ${this.target.baseUrl} (${networkReason(err)}); is the daemon running with the dashboard on, and is --url / AIRUT_URL right?`,
        err,
      );
    }
    if (!res.ok) throw refusal(res.status, await errorText(res), this.target.token !== null, what);
    return res;
  }
}
