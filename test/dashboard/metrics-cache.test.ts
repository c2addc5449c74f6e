/**
 * The /metrics body is reused only while the database is unchanged: a write on the dashboard's own
 * connection (the main thread) or a commit on another (a worker thread, the CLI) computes it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MetricsBodyCache } from '../../src/dashboard/metrics-cache.ts';
import { openDatabase } from '../../src/store/database.ts';

test('the cached /metrics body lasts until a write on either connection, or another set of repositories', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-metrics-cache-'));
  const file = path.join(dir, 'db.sqlite');
  const mine = openDatabase(file, { migrate: true });
  const other = openDatabase(file);
  try {
    const cache = new MetricsBodyCache(mine);
    let computed = 0;
    const get = (ids: string[] = ['a']): string => cache.get(ids, () => `body ${++computed}`);
    assert.equal(get(), 'body 1');
    assert.equal(get(), 'body 1', 'nothing changed: reused');
    mine.prepare(`INSERT INTO repo_status (repo_id, state, updated_at) VALUES ('a', 'idle', 1)`).run();
    assert.equal(get(), 'body 2', 'a write on the same connection');
    assert.equal(get(), 'body 2');
    other.prepare(`UPDATE repo_status SET state = 'error' WHERE repo_id = 'a'`).run();
    assert.equal(get(), 'body 3', 'a commit on another connection');
    assert.equal(get(['a', 'b']), 'body 4', 'a repository was added by a reload');
    assert.equal(get(['a', 'b']), 'body 4');
  } finally {
    other.close();
    mine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
