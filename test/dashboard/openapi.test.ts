/** The OpenAPI description: a valid 3.1 document, and exactly the /api routes the app has (both ways). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { OPENAPI_DOCUMENT } from '../../src/dashboard/openapi.ts';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import { makeConfig, makeOptions, tempDb } from './helpers.ts';

/** `/api/tasks/:id` → `/api/tasks/{id}`. */
function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

describe('the OpenAPI description', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(structuredClone(OPENAPI_DOCUMENT) as Parameters<Validator['validate']>[0]);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(OPENAPI_DOCUMENT.openapi, '3.1.0');
  });

  it('lists every /api route of the app and no other', () => {
    const { db, cleanup } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
      const routes = new Set(
        app.routes
          .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/'))
          .map((r) => `${r.method} ${openApiPath(r.path)}`),
      );
      const described = new Set(
        Object.entries(OPENAPI_DOCUMENT.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
      );
      assert.deepEqual(
        { missingFromDocument: [...routes].filter((r) => !described.has(r)).sort(), notARoute: [...described].filter((r) => !routes.has(r)).sort() },
        { missingFromDocument: [], notARoute: [] },
      );
    } finally {
      cleanup();
    }
  });

  it('is served at /api/openapi.json behind the token, like the API it describes', async () => {
    const { db, cleanup } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'], { authToken: 'tok-openapi-123' })).options);
      const anonymous = await app.request('http://localhost/api/openapi.json');
      assert.equal(anonymous.status, 401);
      const r = await app.request('http://localhost/api/openapi.json', { headers: { authorization: 'Bearer tok-openapi-123' } });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
    } finally {
      cleanup();
    }
  });
});
