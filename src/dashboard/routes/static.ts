/** `/static/:name`: the dashboard's own CSS and JS, with ETags. */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { DashboardError } from '../http-error.ts';

interface StaticFile {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

const STATIC_TYPES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Read once: the set is fixed, so no request path ever reaches the file system. */
function loadStatic(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [name, type] of Object.entries(STATIC_TYPES)) {
    const body = readFileSync(new URL(`../static/${name}`, import.meta.url), 'utf8');
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return files;
}

/** Mounted at `/static`. */
export function staticRoutes(): Hono {
  const statics = loadStatic();
  return new Hono().get('/:name', (c) => {
    const f = statics.get(c.req.param('name'));
    if (!f) throw new DashboardError(404, 'not found', { plain: true });
    if (c.req.header('if-none-match') === f.etag) return c.body(null, 304, { ETag: f.etag, 'Cache-Control': 'no-cache' });
    return c.body(f.body, 200, { 'Content-Type': f.type, ETag: f.etag, 'Cache-Control': 'no-cache' });
  });
}
