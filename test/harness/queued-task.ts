/** A queued task of repository `api` from one accepted mail, for store tests on a real database. */
import path from 'node:path';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { exitTempDir } from './temp-dirs.ts';

let n = 0;

/** A migrated database in a new temporary directory (a real file: WAL, as the daemon runs it). */
export function tempDatabase(prefix: string): Db {
  const dir = exitTempDir(`airut-${prefix}-`);
  return openDatabase(path.join(dir, 'airut.db'), { migrate: true });
}

/** Accepts one mail from a@example.com (a new Message-ID each call) and returns its task id. */
export function queuedTask(db: Db, raw?: Buffer): number {
  n += 1;
  const messageId = `<q${n}@example.com>`;
  return acceptMail(db, {
    repoId: 'api',
    raw: raw ?? Buffer.from(`mail ${n}`),
    imapUid: n,
    messageId,
    subject: 's',
    sender: 'a@example.com',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  }).taskId;
}
