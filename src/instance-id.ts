/**
 * Identifies this daemon's containers among others on the same machine (a second daemon, a test
 * run): derived from the database file, which is what owns the tasks those containers belong to.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

export function instanceId(databasePath: string): string {
  return createHash('sha256').update(path.resolve(databasePath)).digest('hex').slice(0, 12);
}
