/**
 * Read-only questions about a database file's schema, for the doctor (src/doctor/database.ts),
 * which opens the file itself, read-only, and never migrates it.
 */
import Database from 'better-sqlite3';
import { migrate } from './migrations.ts';

type AnyDb = Database.Database;

/** The tables a database holds (SQLite's own excluded), by name. */
export function tableNames(db: AnyDb): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map(
    (r) => r.name,
  );
}

/** Tables a database at the current schema version has: whatever the migrations create. */
export function expectedTables(): string[] {
  const mem = new Database(':memory:');
  try {
    migrate(mem);
    return tableNames(mem);
  } finally {
    mem.close();
  }
}

export function countAllTasks(db: AnyDb): number {
  return (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
}
