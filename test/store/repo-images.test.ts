/** Which image each repository uses, on a real SQLite file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { forgetRepoImage, imagesInUse, recordRepoImage } from '../../src/store/repo-images.ts';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;

function dbFile(): { db: Db } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-images-store-'));
  return { db: openDatabase(path.join(dir, 'airut.db'), { migrate: true }) };
}

test('images: the current one per repo and recently used ones are kept; repos without a record are unknown', () => {
  const { db } = dbFile();
  recordRepoImage(db, 'api', 'airut-api:old', T0);
  recordRepoImage(db, 'api', 'airut-api:new', T0 + 2 * DAY);
  recordRepoImage(db, 'web', 'airut-web:one', T0);
  recordRepoImage(db, 'gone', 'airut-gone:x', T0);
  const use = imagesInUse(db, ['api', 'web', 'docs'], T0 + DAY);
  assert.deepEqual([...use.keep].sort(), ['airut-api:new', 'airut-web:one']);
  assert.deepEqual([...use.unknownRepos], ['docs']);
  // Within the grace period an older image is kept too (a task may be about to start it).
  assert.deepEqual([...imagesInUse(db, ['api'], T0).keep].sort(), ['airut-api:new', 'airut-api:old', 'airut-gone:x', 'airut-web:one']);
  forgetRepoImage(db, 'airut-api:new');
  assert.deepEqual([...imagesInUse(db, ['api'], T0 + 3 * DAY).keep], ['airut-api:old']);
  db.close();
});
