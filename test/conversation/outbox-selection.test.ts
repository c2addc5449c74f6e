/** The outbox caps as a table of cases: apparent vs allocated size, per file, per reply, count, non-regular files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countedBytes, notAttachedMarkdown, selectOutboxFiles, type OutboxEntry } from '../../src/conversation/index.ts';

const MiB = 1024 * 1024;
const caps = { maxFileBytes: 10 * MiB, maxTotalBytes: 16 * MiB, maxFiles: 3 };
const file = (name: string, size: number, blocks = Math.ceil(size / 512)): OutboxEntry => ({ name, kind: 'file', size, blocks });

test('a file counts as the larger of its apparent and its allocated size', () => {
  assert.equal(countedBytes(100, 8), 4096, 'small file in a 4 KiB block');
  assert.equal(countedBytes(3 * 1024 ** 3, 0), 3 * 1024 ** 3, 'sparse: the apparent size');
  assert.equal(countedBytes(0, 4096), 2 * MiB, 'preallocated beyond EOF: the allocated size');
});

test('the caps, case by case', () => {
  const cases: Array<{ what: string; entries: OutboxEntry[]; attach: string[]; skipped: Array<[string, string]> }> = [
    { what: 'within every cap', entries: [file('a.txt', 10), file('b.txt', 20)], attach: ['a.txt', 'b.txt'], skipped: [] },
    { what: 'sparse 3 GiB file (no blocks)', entries: [file('big', 3 * 1024 ** 3, 0), file('ok', 5)], attach: ['ok'], skipped: [['big', 'file_too_large']] },
    { what: 'preallocated file with st_size 0', entries: [file('pre', 0, 11 * 2048)], attach: [], skipped: [['pre', 'file_too_large']] },
    { what: 'exactly the per-file cap', entries: [file('edge', 10 * MiB)], attach: ['edge'], skipped: [] },
    {
      what: 'the total: a later small file still fits',
      entries: [file('a', 9 * MiB), file('b', 8 * MiB), file('c', 1 * MiB)],
      attach: ['a', 'c'],
      skipped: [['b', 'total_too_large']],
    },
    {
      what: 'the file count',
      entries: [file('1', 1), file('2', 1), file('3', 1), file('4', 1), file('5', 1)],
      attach: ['1', '2', '3'],
      skipped: [['4', 'too_many_files'], ['5', 'too_many_files']],
    },
    {
      what: 'symlinks, FIFOs, devices, sockets and directories are never attached',
      entries: [
        { name: 'link', kind: 'symlink', size: 11, blocks: 0 },
        { name: 'pipe', kind: 'fifo', size: 0, blocks: 0 },
        { name: 'null', kind: 'device', size: 0, blocks: 0 },
        { name: 'sock', kind: 'socket', size: 0, blocks: 0 },
        { name: 'dir', kind: 'directory', size: 4096, blocks: 8 },
        file('real', 3),
      ],
      attach: ['real'],
      skipped: [['dir', 'not_regular'], ['link', 'not_regular'], ['null', 'not_regular'], ['pipe', 'not_regular'], ['sock', 'not_regular']],
    },
  ];
  for (const c of cases) {
    const s = selectOutboxFiles(c.entries, caps);
    assert.deepEqual(s.attach.map((a) => a.name), c.attach, c.what);
    assert.deepEqual(s.notAttached.map((n) => [n.name, n.reason]), c.skipped, c.what);
    assert.ok(s.attachedBytes <= caps.maxTotalBytes, c.what);
  }
});

test('entries the scan did not examine are reported, and the reply names what was left out', () => {
  const s = selectOutboxFiles([file('big', 3 * 1024 ** 3, 0), { name: 'x\n`evil`', kind: 'fifo', size: 0, blocks: 0 }], caps, 7);
  assert.deepEqual(s.attach, []);
  const md = notAttachedMarkdown(s.notAttached);
  assert.match(md, /Not attached/);
  assert.match(md, /`big` \(3 GiB\): larger than the limit of 10 MiB per file/);
  assert.match(md, /`x\?\?evil\?`: a named pipe; only regular files are attached/, 'control characters and backticks replaced');
  assert.match(md, /7 more entries/);
  assert.equal(notAttachedMarkdown([]), '');
  const many = selectOutboxFiles(Array.from({ length: 80 }, (_, i) => file(`f${String(i).padStart(2, '0')}`, 1)), { ...caps, maxFiles: 0 });
  assert.match(notAttachedMarkdown(many.notAttached), /… and 30 more/);
});
