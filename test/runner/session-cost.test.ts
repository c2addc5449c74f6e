import { test } from 'node:test';
import assert from 'node:assert/strict';
import { carriedCost, ownCost } from '../../src/runner/session-cost.ts';

test('carriedCost: only the total of the session being resumed counts', () => {
  const context = { sessionCost: { sessionId: 'sess-1', totalUsd: 0.0008 } };
  assert.equal(carriedCost(context, 'sess-1'), 0.0008);
  assert.equal(carriedCost(context, 'sess-2'), 0, 'another session starts from 0');
  assert.equal(carriedCost(context, null), 0, 'a new session starts from 0');
  assert.equal(carriedCost({}, 'sess-1'), 0, 'no total known (a conversation from before this was kept)');
});

test('ownCost: the reported total minus what was carried; a total below it means the count started afresh', () => {
  assert.equal(ownCost(0.0012, 0.0008), 0.0004);
  assert.equal(ownCost(0.0008, 0), 0.0008);
  assert.equal(ownCost(0.0003, 0.0008), 0.0003);
});
