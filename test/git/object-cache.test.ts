/** The per-thread cache of immutable git data: bounded by entries and bytes, least recently used out first. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedCache } from '../../src/git/object-cache.ts';

test('entries beyond the count go, least recently used first; a read refreshes', () => {
  const c = new BoundedCache<string>(2, 1000, (v) => v.length);
  c.set('a', 'x');
  c.set('b', 'y');
  assert.equal(c.get('a'), 'x');
  c.set('c', 'z');
  assert.equal(c.get('b'), undefined, 'b was the least recently used');
  assert.equal(c.get('a'), 'x');
  assert.equal(c.get('c'), 'z');
});

test('bytes are bounded; a value over a quarter of the budget is not kept; replacing a key recounts', () => {
  const c = new BoundedCache<Buffer>(100, 100, (b) => b.length);
  c.set('big', Buffer.alloc(26));
  assert.equal(c.get('big'), undefined);
  for (let i = 0; i < 5; i++) c.set(String(i), Buffer.alloc(25));
  assert.equal(c.bytes, 100);
  assert.equal(c.size, 4);
  assert.equal(c.get('0'), undefined);
  c.set('4', Buffer.alloc(1));
  assert.equal(c.bytes, 76);
});
