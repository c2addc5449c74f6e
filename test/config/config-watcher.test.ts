/**
 * The configuration watcher against the real file system: an atomic rename (how editors save) is
 * seen, a burst of writes is one change, and a touch or an identical save is none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { watchConfigFile } from '../../src/config/config-watcher.ts';

/** A watcher on a new file, counting its changes; `next()` resolves at the next change. */
function setUp(debounceMs = 200) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-watch-'));
  const file = path.join(dir, 'airut.yaml');
  fs.writeFileSync(file, 'repos: {}\n');
  let count = 0;
  let waiter: (() => void) | null = null;
  const watcher = watchConfigFile({
    file,
    debounceMs,
    onChange: () => {
      count += 1;
      waiter?.();
    },
  });
  const next = (what: string) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no change seen: ${what}`)), 20_000);
      waiter = () => {
        clearTimeout(t);
        waiter = null;
        resolve();
      };
    });
  return { dir, file, watcher, next, count: () => count };
}

/** Lets the watcher see (and debounce) whatever the file system reports; no change may follow. */
async function settle(ms = 1_000): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

test('an editor that writes a temporary file and renames it over the configuration is seen, once', async () => {
  const w = setUp();
  try {
    const changed = w.next('atomic rename');
    const tmp = path.join(w.dir, '.airut.yaml.swp');
    fs.writeFileSync(tmp, 'repos: { a: 1 }\n');
    fs.renameSync(tmp, w.file);
    await changed;
    // And the watch still works on the new inode.
    const again = w.next('second rename');
    fs.writeFileSync(tmp, 'repos: { a: 2 }\n');
    fs.renameSync(tmp, w.file);
    await again;
    await settle();
    assert.equal(w.count(), 2);
  } finally {
    w.watcher.close();
  }
});

test('a burst of writes within the debounce is one change', async () => {
  const w = setUp(400);
  try {
    const changed = w.next('burst');
    for (let i = 0; i < 5; i++) fs.appendFileSync(w.file, `# line ${i}\n`);
    await changed;
    await settle();
    assert.equal(w.count(), 1);
  } finally {
    w.watcher.close();
  }
});

test('a touch, an identical save and other files in the directory change nothing', async () => {
  const w = setUp();
  try {
    const now = new Date();
    fs.utimesSync(w.file, now, now);
    fs.writeFileSync(w.file, 'repos: {}\n');
    fs.writeFileSync(path.join(w.dir, 'other.yaml'), 'x: 1\n');
    await settle(1_500);
    assert.equal(w.count(), 0);
    // The watcher is alive: a real change after them is seen.
    const changed = w.next('a real change');
    fs.writeFileSync(w.file, 'repos: { b: 1 }\n');
    await changed;
  } finally {
    w.watcher.close();
  }
});

test('a deleted file is a change (the reload reports it); its return is another', async () => {
  const w = setUp();
  try {
    const gone = w.next('deletion');
    fs.unlinkSync(w.file);
    await gone;
    const back = w.next('file back');
    fs.writeFileSync(w.file, 'repos: {}\n');
    await back;
  } finally {
    w.watcher.close();
  }
});

test('after close nothing is reported', async () => {
  const w = setUp();
  w.watcher.close();
  fs.writeFileSync(w.file, 'repos: { c: 1 }\n');
  await settle();
  assert.equal(w.count(), 0);
});
