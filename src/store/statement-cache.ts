/** Statements the dashboard runs on every request, prepared once per connection. */
import type Database from 'better-sqlite3';
import type { Db } from './database.ts';

// Preparing costs more than running these small indexed queries.
const statements = new WeakMap<Db, Map<string, Database.Statement>>();

export function cachedStatement(db: Db, sql: string): Database.Statement {
  let m = statements.get(db);
  if (!m) statements.set(db, (m = new Map()));
  let st = m.get(sql);
  if (!st) m.set(sql, (st = db.prepare(sql)));
  return st;
}
