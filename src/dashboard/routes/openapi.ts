/** `GET /api/openapi.json`: the API's description (../openapi.ts), behind the API's own token like every /api route. */
import { Hono } from 'hono';
import { OPENAPI_DOCUMENT } from '../openapi.ts';

/** Mounted at `/api`. */
export function openApiRoutes(): Hono {
  return new Hono().get('/openapi.json', (c) => c.json(OPENAPI_DOCUMENT));
}
