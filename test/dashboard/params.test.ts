import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCursor, parseId } from '../../src/dashboard/params.ts';

describe('dashboard parameters', () => {
  it('reads a task id only from a positive integer of at most 16 digits', () => {
    for (const [v, want] of [
      ['1', 1],
      ['42', 42],
      ['9007199254740991', 9007199254740991],
      [undefined, undefined],
      ['', undefined],
      ['0', undefined],
      ['007', undefined],
      ['-1', undefined],
      ['1.5', undefined],
      ['1e3', undefined],
      [' 1', undefined],
      ['9007199254740993', undefined],
      ['12345678901234567', undefined],
    ] as const) {
      assert.equal(parseId(v), want, String(v));
    }
  });

  it('reads a cursor as 0 when absent, and refuses anything but a non-negative integer', () => {
    for (const [v, want] of [
      [undefined, 0],
      ['', 0],
      ['0', 0],
      ['17', 17],
      ['-1', undefined],
      ['x', undefined],
      ['1.0', undefined],
      ['9007199254740993', undefined],
    ] as const) {
      assert.equal(parseCursor(v), want, String(v));
    }
  });
});
