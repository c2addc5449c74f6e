import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiToken, findActiveToken, hashToken, listApiTokens, revokeApiToken } from '../../src/store/api-tokens.ts';
import { tempDatabase } from '../harness/queued-task.ts';
import { AirutError } from '../../src/errors.ts';

test('a token is stored only as its SHA-256, found by it while active, and never after revocation', () => {
  const db = tempDatabase('api-tokens');
  const { token, row } = createApiToken(db, { name: 'ci', repos: ['api', 'web'], rights: 'submit' }, 1000);
  assert.match(token, /^airut_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(row, { id: row.id, name: 'ci', repos: ['api', 'web'], rights: 'submit', createdAt: 1000, revokedAt: null, lastUsedAt: null });
  const stored = JSON.stringify(db.prepare('SELECT * FROM api_tokens').all());
  assert.ok(!stored.includes(token.slice(6)), 'the token itself is not in the database');
  assert.ok(stored.includes(hashToken(token)));
  assert.equal(findActiveToken(db, token)?.name, 'ci');
  assert.equal(findActiveToken(db, token + 'x'), null);
  assert.notEqual(createApiToken(db, { name: 'other', repos: ['api'], rights: 'read' }, 1).token, token, 'each token is new');

  assert.throws(() => createApiToken(db, { name: 'ci', repos: ['api'], rights: 'read' }, 2), (e: unknown) => e instanceof AirutError && e.code === 'API_TOKEN_INVALID' && /already exists/.test(e.message));
  assert.equal(revokeApiToken(db, 'ci', 5000).revokedAt, 5000);
  assert.equal(revokeApiToken(db, 'ci', 6000).revokedAt, 5000, 'revoking again changes nothing');
  assert.equal(findActiveToken(db, token), null);
  assert.throws(() => revokeApiToken(db, 'nobody', 1), (e: unknown) => e instanceof AirutError && e.code === 'API_TOKEN_NOT_FOUND');
  assert.deepEqual(listApiTokens(db).map((t) => [t.name, t.revokedAt]), [['ci', 5000], ['other', null]]);
  db.close();
});

test('a row edited by hand into something other than a list of ids grants no repository; rights are checked by SQLite', () => {
  const db = tempDatabase('api-tokens');
  const { token } = createApiToken(db, { name: 'x', repos: ['api'], rights: 'read' }, 1);
  db.prepare(`UPDATE api_tokens SET repos = '{"api": true}'`).run();
  assert.deepEqual(findActiveToken(db, token)?.repos, []);
  assert.throws(() => db.prepare(`UPDATE api_tokens SET rights = 'admin'`).run(), /CHECK constraint/);
  db.close();
});
