/**
 * A value that changes whenever the database does, for caches of things computed from it:
 * `data_version` moves when another connection commits (a worker thread, the CLI), `total_changes()`
 * when this connection writes (data_version does not see its own connection's writes).
 */
import type { Db } from './database.ts';
import { cachedStatement } from './statement-cache.ts';

export function changeStamp(db: Db): string {
  const dataVersion = db.pragma('data_version', { simple: true }) as number;
  const { n } = cachedStatement(db, `SELECT total_changes() AS n`).get() as { n: number };
  return `${dataVersion}.${n}`;
}
