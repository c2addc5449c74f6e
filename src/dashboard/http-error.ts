/**
 * The one way a dashboard route or guard refuses a request: throw a DashboardError. Hono's own
 * HTTPException underneath, so Hono's error handling treats it as an HTTP answer, not a crash;
 * error-handler.ts renders it (a page for pages, JSON for the API) and logs nothing, because a
 * refused request is the client's mistake, not the daemon's.
 */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface DashboardErrorOptions {
  /** The JSON answer when it is not `{ error: message }` (the stop action answers `{ ok: false, … }`). */
  readonly json?: Readonly<Record<string, unknown>>;
  /** Answer in plain text, whatever the path or the client accepts (the Host check, the login form's refusals). */
  readonly plain?: boolean;
  readonly cause?: unknown;
}

export class DashboardError extends HTTPException {
  readonly json: Readonly<Record<string, unknown>> | null;
  readonly plain: boolean;

  constructor(status: ContentfulStatusCode, message: string, options: DashboardErrorOptions = {}) {
    super(status, { message, cause: options.cause });
    this.name = 'DashboardError';
    this.json = options.json ?? null;
    this.plain = options.plain ?? false;
  }
}
