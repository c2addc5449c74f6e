/**
 * API tokens (`airut token create`): what each may see (repositories) and do (read, or also
 * submit), stored by the SHA-256 of the token. A token is 256 random bits, so a fast hash is as
 * safe as a slow one: nobody can guess a preimage, and a slow hash only protects secrets that
 * people choose. The lookup is by hash, so the comparison that matters is SQLite's index search
 * over digests, which leaks nothing useful about the token itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AirutError } from '../errors.ts';
import { writeTransaction, type Db } from './database.ts';

export type TokenRights = 'read' | 'submit';
export const TOKEN_RIGHTS: readonly TokenRights[] = ['read', 'submit'];
/** Every token starts with this, so a leaked one is easy to recognise in a log or a paste. */
export const TOKEN_PREFIX = 'airut_';

export interface ApiToken {
  readonly id: number;
  readonly name: string;
  readonly repos: readonly string[];
  readonly rights: TokenRights;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

interface Row {
  id: number;
  name: string;
  repos: string;
  rights: TokenRights;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

const COLUMNS = 'id, name, repos, rights, created_at, revoked_at, last_used_at';

function fromRow(r: Row): ApiToken {
  const repos: unknown = JSON.parse(r.repos);
  return {
    id: r.id,
    name: r.name,
    // A row edited by hand into something else than a list of strings grants nothing.
    repos: Array.isArray(repos) ? repos.filter((x): x is string => typeof x === 'string') : [],
    rights: r.rights,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** Stores a new token; returns it (the only time it exists outside the caller's hands) and its row. */
export function createApiToken(
  db: Db,
  spec: { readonly name: string; readonly repos: readonly string[]; readonly rights: TokenRights },
  now: number,
): { readonly token: string; readonly row: ApiToken } {
  const token = newTokenSecret();
  return writeTransaction(db, () => {
    if (db.prepare('SELECT 1 FROM api_tokens WHERE name = ?').get(spec.name)) {
      throw new AirutError('API_TOKEN_INVALID', `a token named "${spec.name}" already exists (revoked tokens keep their names); choose another name`);
    }
    const id = db
      .prepare('INSERT INTO api_tokens (name, token_sha256, repos, rights, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(spec.name, hashToken(token), JSON.stringify(spec.repos), spec.rights, now).lastInsertRowid;
    return { token, row: fromRow(db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE id = ?`).get(id) as Row) };
  });
}

/** The active (not revoked) token with this secret, or null. */
export function findActiveToken(db: Db, token: string): ApiToken | null {
  const row = db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL`).get(hashToken(token)) as Row | undefined;
  return row ? fromRow(row) : null;
}

export function listApiTokens(db: Db): ApiToken[] {
  return (db.prepare(`SELECT ${COLUMNS} FROM api_tokens ORDER BY name`).all() as Row[]).map(fromRow);
}

/** Revokes the token of this name (again: no change); throws when there is none. */
export function revokeApiToken(db: Db, name: string, now: number): ApiToken {
  return writeTransaction(db, () => {
    const row = db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE name = ?`).get(name) as Row | undefined;
    if (!row) throw new AirutError('API_TOKEN_NOT_FOUND', `there is no token named "${name}"; \`airut token list\` shows them`);
    if (row.revoked_at === null) db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ?').run(now, row.id);
    return fromRow({ ...row, revoked_at: row.revoked_at ?? now });
  });
}

export function touchApiToken(db: Db, id: number, now: number): void {
  db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(now, id);
}
