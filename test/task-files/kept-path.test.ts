/** Kept paths: only the shape keep.ts makes resolves, and never outside the storage directory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { newKeptPath, resolveKeptPath } from '../../src/task-files/kept-path.ts';
import { downloadType, typeForName } from '../../src/task-files/content-type.ts';

test('a new kept path resolves under the storage directory', () => {
  const rel = newKeptPath('c0ffee01', 42);
  assert.match(rel, /^conversations\/c0ffee01\/task-files\/42\/[0-9a-f]{32}$/);
  assert.equal(resolveKeptPath('/srv/airut/alpha', rel), path.join('/srv/airut/alpha', rel));
});

test('paths that escape or are not of that shape are refused', () => {
  for (const bad of [
    '../../etc/passwd',
    '/etc/passwd',
    'conversations/c0ffee01/task-files/42/../../../../etc/passwd',
    'conversations/c0ffee01/inbox/x',
    'conversations/C0FFEE01/task-files/42/' + 'a'.repeat(32),
    'conversations/c0ffee01/task-files/42/' + 'a'.repeat(32) + '/..',
    '',
  ]) {
    assert.equal(resolveKeptPath('/srv/airut/alpha', bad), null, bad);
  }
});

test('types: outbox files by extension; downloads only as a short list of inert types', () => {
  assert.equal(typeForName('report.PDF'), 'application/pdf');
  assert.equal(typeForName('notes.md'), 'text/markdown');
  assert.equal(typeForName('page.html'), 'application/octet-stream');
  assert.equal(typeForName('.png'), 'application/octet-stream');
  assert.equal(downloadType('text/plain; charset=latin1'), 'text/plain; charset=utf-8');
  assert.equal(downloadType('IMAGE/PNG'), 'image/png');
  for (const unsafe of ['text/html', 'image/svg+xml', 'application/xhtml+xml', 'text/javascript', 'application/x-unknown', '']) {
    assert.equal(downloadType(unsafe), 'application/octet-stream', unsafe);
  }
});
