/** The per-thread memory of recent image answers: keyed by tree, forgotten after IMAGE_REUSE_MS. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forgetImages, IMAGE_REUSE_MS, imageReuseKey, rememberImage, reusableImage } from '../../src/runner/image-reuse.ts';

test('an answer is reused until IMAGE_REUSE_MS, per repository, container path and tree', () => {
  forgetImages();
  const key = imageReuseKey('api', '.airut/container', 'a'.repeat(40));
  rememberImage(key, { localTag: 'airut-api:1', runTag: 'airut-api:1' }, 1_000);
  assert.deepEqual(reusableImage(key, 1_000 + IMAGE_REUSE_MS - 1), { localTag: 'airut-api:1', runTag: 'airut-api:1', at: 1_000 });
  assert.equal(reusableImage(key, 1_000 + IMAGE_REUSE_MS), null, 'expired: the full check runs again');
  assert.equal(reusableImage(key, 1_000), null, 'and the expired entry is gone');
  assert.notEqual(imageReuseKey('web', '.airut/container', 'a'.repeat(40)), key);
  assert.notEqual(imageReuseKey('api', '.devcontainer', 'a'.repeat(40)), key);
});

test('the memory is bounded: the oldest answer goes first', () => {
  forgetImages();
  for (let i = 0; i < 300; i++) rememberImage(imageReuseKey('r', 'c', String(i)), { localTag: `t${i}`, runTag: `t${i}` }, 0);
  assert.equal(reusableImage(imageReuseKey('r', 'c', '0'), 1), null);
  assert.equal(reusableImage(imageReuseKey('r', 'c', '299'), 1)?.localTag, 't299');
});
