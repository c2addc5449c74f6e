/**
 * Opens the shared SQLite file. Every thread that touches the database opens its own
 * connection with these settings (better-sqlite3 connections are not shareable across threads).
 */
import Database from 'better-sqlite3';
import { AirutError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { secureDatabaseFiles } from './file-modes.ts';
import { migrate } from './migrations.ts';

export type Db = Database.Database;

export interface OpenOptions {
  /** Apply pending migrations (only the supervisor does; other threads expect the schema to be there). */
  readonly migrate?: boolean;
  readonly readonly?: boolean;
  /** Where to report modes that were tightened (or should be) on the database's files. */
  readonly log?: Logger;
  /** The daemon's other directories (storage_dir of each repo): next to the database, they are not a sign of a shared directory. */
  readonly ownPaths?: readonly string[];
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  let db: Db;
  try {
    if (file !== ':memory:' && !options.readonly) reportModes(secureDatabaseFiles(file, options.ownPaths), options.log);
    db = new Database(file, { readonly: options.readonly ?? false });
  } catch (err) {
    throw new AirutError(
      'DATABASE_OPEN_FAILED',
      `cannot open the database ${file}: ${(err as Error).message} (check the path in \`database:\` and that the directory is writable)`,
      { cause: err },
    );
  }
  // WAL lets the dashboard read while a writer commits; FULL sync makes an accepted task survive
  // a power loss, which is the promise we make before deleting a mail from the server.
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  if (options.migrate) migrate(db);
  reusePreparedStatements(db);
  return db;
}

/** Distinct SQL texts kept prepared per connection; queries built with a variable `IN (?, …)` list make a few more. */
const PREPARED_KEPT = 512;

/**
 * `db.prepare(sql)` hands back the statement prepared for the same text earlier on this connection.
 * better-sqlite3 compiles on every call, and the store's functions call it per use: the profile of a
 * busy coordinator showed a twelfth of the main thread's time spent compiling the same few dozen
 * statements (docs/benchmarks.md). Safe here because no code of ours changes a statement's mode
 * (pluck, raw, expand) or keeps one iterating while another call runs it; SQLite re-prepares a
 * statement by itself after a schema change.
 */
function reusePreparedStatements(db: Db): void {
  const compile = db.prepare.bind(db);
  const kept = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let stmt = kept.get(sql);
    if (stmt === undefined) {
      stmt = compile(sql);
      if (kept.size >= PREPARED_KEPT) kept.delete(kept.keys().next().value!);
      kept.set(sql, stmt);
    }
    return stmt;
  }) as Db['prepare'];
}

function reportModes(findings: ReturnType<typeof secureDatabaseFiles>, log: Logger | undefined): void {
  for (const f of findings) {
    if (f.changed) log?.warn({ path: f.path, from: f.from, to: f.to }, 'database: made a file others could read private');
    else log?.warn({ path: f.path, mode: f.from, reason: f.reason }, `database: others can read ${f.path}; run chmod ${f.to} on it if it is not shared`);
  }
}

/**
 * Runs `fn` in a write transaction that takes the write lock up front (BEGIN IMMEDIATE), so two
 * writers never deadlock upgrading read locks, and busy_timeout applies at the start.
 */
export function writeTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}
