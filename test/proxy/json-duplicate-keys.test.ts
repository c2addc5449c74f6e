import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasDuplicateKeys } from '../../src/proxy/json-duplicate-keys.ts';

test('duplicate keys are found in any object, after unescaping', () => {
  assert.equal(hasDuplicateKeys('{"query": "a", "query": "b"}'), true);
  assert.equal(hasDuplicateKeys('{"query": "a", "\\u0071uery": "b"}'), true, 'an escaped spelling of the same key');
  assert.equal(hasDuplicateKeys('[{"a": 1}, {"x": {"b": [1, {"c": 2, "c": 3}]}}]'), true, 'nested');
  assert.equal(hasDuplicateKeys('{"a": {}, "a": 1}'), true, 'after an empty object');
});

test('distinct keys, keys repeated in sibling objects, and string values that look like keys are fine', () => {
  assert.equal(hasDuplicateKeys('{"query": "{ a }", "variables": {"query": "x"}}'), false);
  assert.equal(hasDuplicateKeys('[{"query": "a"}, {"query": "b"}]'), false);
  assert.equal(hasDuplicateKeys('{"a": "query", "b": ["query", "query"], "c": "\\"query\\""}'), false);
  assert.equal(hasDuplicateKeys('{"a": {}, "b": [], "c": [{}], "d": null}'), false);
  assert.equal(hasDuplicateKeys('"just a string"'), false);
  assert.equal(hasDuplicateKeys('{"a\\\\": 1, "a": 2}'), false, 'an escaped backslash ends the key where it should');
});
