/** A queued task for store tests: a minimal mail accepted through the real accept path. */
import type { Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';

let n = 0;

/** Queues mail number n (Message-ID `<m{n}@x>`, subject `s{n}`) from `sender`, threaded to `refs`. */
export function enqueue(db: Db, repoId: string, refs: string[] = [], sender: (n: number) => string = () => 'a@example.com'): number {
  n += 1;
  return acceptMail(db, {
    repoId,
    raw: Buffer.from(`mail ${n}`),
    imapUid: n,
    messageId: `<m${n}@x>`,
    subject: `s${n}`,
    sender: sender(n),
    conversationCandidates: refs,
    verdict: { action: 'accept', modelHint: null },
  }).taskId;
}
