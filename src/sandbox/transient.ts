/**
 * Whether a failed Claude Code run failed for a reason that goes away by itself: the API
 * overloaded (529, `overloaded_error`) or rate limiting (429), an API server error (5xx), or the
 * API not reachable (connection refused or reset, DNS, timeouts). Anything else (a 400 the request
 * itself caused, a 401 bad key, a crash, the task's own error) is the task's failure and is not
 * retried. Pure.
 *
 * The CLI reports the API's answer in structured fields of its `result` line (`api_error_status`,
 * `api_error_type`, `api_error`; seen with Claude Code 2.1 and `CLAUDE_CODE_MAX_RETRIES=0`); the
 * text patterns are the fallback for versions that only print "API Error: 529 …".
 */
import type { ResultEvent } from './stream-json.ts';

export type TransientKind = 'overloaded' | 'rate_limited' | 'server_error' | 'network';

export interface TransientFailure {
  readonly kind: TransientKind;
  /** One line for the dashboard and the reply, e.g. `API 529 overloaded_error`. */
  readonly detail: string;
}

const NETWORK_TEXT = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|Connection error|Connection refused|fetch failed|Request timed out)\b/i;
const STATUS_TEXT = /API Error:\s*(\d{3})\b/;

/** The transient cause of a failed run, or null when the failure is the task's own. */
export function transientFailure(result: ResultEvent | null, texts: readonly string[]): TransientFailure | null {
  if (result) {
    const byStatus = fromStatus(result.apiErrorStatus, result.apiErrorType);
    if (byStatus) return byStatus;
    if (result.apiErrorStatus !== null) return null; // an API answer that is not transient (400, 401, 403…)
    if (result.apiErrorType === 'overloaded_error') return { kind: 'overloaded', detail: 'API overloaded_error' };
    if (result.apiErrorType === 'rate_limit_error') return { kind: 'rate_limited', detail: 'API rate_limit_error' };
    if (result.apiError) return { kind: 'network', detail: `API not reachable (${result.apiError})` };
  }
  const text = [result?.result ?? '', ...texts].join('\n');
  const status = STATUS_TEXT.exec(text);
  if (status) return fromStatus(Number(status[1]), /overloaded_error/.test(text) ? 'overloaded_error' : null);
  if (/overloaded_error/.test(text)) return { kind: 'overloaded', detail: 'API overloaded_error' };
  const net = NETWORK_TEXT.exec(text);
  if (net && /API Error|Anthropic|api\.anthropic\.com|\/v1\/messages/i.test(text)) return { kind: 'network', detail: `API not reachable (${net[1]})` };
  return null;
}

function fromStatus(status: number | null, type: string | null): TransientFailure | null {
  if (status === null) return null;
  const detail = `API ${status}${type ? ` ${type}` : ''}`;
  if (status === 529 || type === 'overloaded_error') return { kind: 'overloaded', detail };
  if (status === 429) return { kind: 'rate_limited', detail };
  if (status >= 500 && status <= 599) return { kind: 'server_error', detail };
  if (status === 408) return { kind: 'network', detail };
  return null;
}
