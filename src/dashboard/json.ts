/** JSON answers: every string in them passes through the secret redaction first. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { redactSecretValues } from '../log/logger.ts';

/** Every string in a JSON answer passes through the secret redaction, however deeply nested. */
export function redactDeep(v: unknown): unknown {
  if (typeof v === 'string') return redactSecretValues(v);
  if (Array.isArray(v)) return v.map(redactDeep);
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[k] = redactDeep(val);
    return out;
  }
  return v;
}

export function sendJson(c: Context, body: unknown, status: ContentfulStatusCode = 200): Response {
  return c.json(redactDeep(body) as object, status);
}
