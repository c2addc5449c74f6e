/** Accepted git pushes in the network log: stored with their row, past the row cap, and read back per task for the reply. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { insertNetworkRequests, listTaskNetworkRequests, listTaskPushes } from '../../src/store/network-log.ts';
import { NetworkLogWriter } from '../../src/sandbox/task-network.ts';
import type { NetworkLogEntry } from '../../src/proxy/conversation-proxy.ts';

function taskIn(db: Db): number {
  const msg = db.prepare(`INSERT INTO messages (repo_id, raw_sha256, size, raw, received_at) VALUES ('api', ?, 1, x'00', 0)`).run(`sha-${Math.random()}`);
  return Number(
    db
      .prepare(`INSERT INTO tasks (repo_id, message_row, conversation_id, sender, subject, status, created_at) VALUES ('api', ?, 'deadbeef', 'a@b.c', 's', 'running', 0)`)
      .run(msg.lastInsertRowid).lastInsertRowid,
  );
}

const entry = (over: Partial<NetworkLogEntry> = {}): NetworkLogEntry => ({
  at: 1, method: 'POST', host: 'github.com', port: 443, path: '/o/r.git/git-receive-pack', status: 200, allowed: true, rule: 'x', masked: 1, durationMs: 1, ...over,
});
const scope = (taskId: number) => ({ repoId: 'api', conversationId: 'deadbeef', taskId });

test('pushed refs are stored with the row and grouped per host and repository for the task', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = taskIn(db);
  const other = taskIn(db);
  insertNetworkRequests(db, scope(taskId), [
    entry({ method: 'GET', path: '/o/r.git/info/refs' }),
    entry({ pushed: ['refs/heads/a'] }),
    entry({ pushed: ['refs/heads/a', 'refs/tags/v1'] }),
    entry({ host: 'git.test', port: 8443, path: '/x/y.git/git-receive-pack', pushed: ['refs/heads/b'] }),
    entry({ status: 401 }),
  ]);
  insertNetworkRequests(db, scope(other), [entry({ pushed: ['refs/heads/not-this-task'] })]);
  assert.deepEqual(listTaskPushes(db, taskId), [
    { host: 'github.com', repoPath: '/o/r.git', refs: ['refs/heads/a', 'refs/tags/v1'] },
    { host: 'git.test:8443', repoPath: '/x/y.git', refs: ['refs/heads/b'] },
  ]);
  const rows = listTaskNetworkRequests(db, taskId);
  assert.deepEqual(rows.map((r) => r.pushed), [undefined, ['refs/heads/a'], ['refs/heads/a', 'refs/tags/v1'], ['refs/heads/b'], undefined]);
  assert.deepEqual(listTaskPushes(db, taskIn(db)), []);
});

test('a stored value that is not a JSON list of names reads as nothing pushed', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = taskIn(db);
  const id = insertNetworkRequests(db, scope(taskId), [entry({ pushed: ['refs/heads/a'] })]);
  db.prepare(`UPDATE network_requests SET pushed = '{not json' WHERE id = ?`).run(id);
  assert.deepEqual(listTaskPushes(db, taskId), []);
});

test('past max_network_rows, an accepted push is still stored (the reply names it); other rows are counted', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const taskId = taskIn(db);
  const truncations: unknown[] = [];
  const writer = new NetworkLogWriter({
    log: pino({ level: 'silent' }),
    storeLogRows: (rows) => insertNetworkRequests(db, scope(taskId), rows),
    maxLogRows: 2,
    onLogTruncated: (t) => truncations.push(t),
  });
  for (let i = 0; i < 5; i++) writer.add(entry({ method: 'GET', path: `/p${i}` }));
  writer.add(entry({ pushed: ['refs/heads/late'] }));
  writer.close();
  assert.equal(listTaskNetworkRequests(db, taskId).length, 3);
  assert.deepEqual(listTaskPushes(db, taskId), [{ host: 'github.com', repoPath: '/o/r.git', refs: ['refs/heads/late'] }]);
  assert.deepEqual(truncations, [{ limit: 2, dropped: 3, blocked: 0 }]);
});
