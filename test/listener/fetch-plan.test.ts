import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planFetches } from '../../src/listener/fetch-plan.ts';

test('an oversized message is fetched as headers only, between groups of the others, in UID order', () => {
  const sizes = new Map([[1, 100], [2, 5000], [3, 100], [4, 100]]);
  assert.deepEqual(planFetches([1, 2, 3, 4], sizes, 1000, 1_000_000), [
    { kind: 'whole', uids: [1] },
    { kind: 'headers', uid: 2, size: 5000 },
    { kind: 'whole', uids: [3, 4] },
  ]);
});

test('groups are bounded in bytes; a single message larger than a group still gets fetched', () => {
  const sizes = new Map([[1, 400], [2, 400], [3, 400], [4, 900]]);
  assert.deepEqual(planFetches([1, 2, 3, 4], sizes, null, 1000), [
    { kind: 'whole', uids: [1, 2] },
    { kind: 'whole', uids: [3] },
    { kind: 'whole', uids: [4] },
  ]);
});

test('without a size limit, or without a size from the server, messages are fetched whole', () => {
  assert.deepEqual(planFetches([7, 8], new Map([[7, 10 ** 9]]), null, 100), [{ kind: 'whole', uids: [7] }, { kind: 'whole', uids: [8] }]);
  assert.deepEqual(planFetches([7, 8], new Map(), 10, 100), [{ kind: 'whole', uids: [7, 8] }]);
});

test('nothing waiting, nothing to do', () => {
  assert.deepEqual(planFetches([], new Map(), 10, 100), []);
});
