import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../../src/store/database.ts';
import { countSessions, findSession, insertSession } from '../../src/store/dashboard-sessions.ts';

test('a new session removes ended ones and keeps at most `keep`, the least recently used going first', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const expiry = (now: number) => ({ idleBefore: now - 1000, createdBefore: now - 5000, keep: 3 });
  insertSession(db, 'old', 0, expiry(0));
  for (let i = 1; i <= 4; i++) insertSession(db, `s${i}`, 2000 + i, expiry(2000 + i));
  assert.equal(findSession(db, 'old'), null, 'idle past the timeout');
  assert.equal(countSessions(db), 3);
  assert.equal(findSession(db, 's1'), null, 'the least recently used beyond the cap');
  assert.deepEqual(findSession(db, 's4'), { createdAt: 2004, lastSeenAt: 2004 });
  db.close();
});
