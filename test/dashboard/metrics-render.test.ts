/** Label values in /metrics: escaped as the exposition format 0.0.4 says, and left alone when nothing needs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLabelValue } from '../../src/dashboard/metrics.ts';

test('escapeLabelValue escapes backslash, double quote and line feed, and returns other values unchanged', () => {
  assert.equal(escapeLabelValue('repo-01'), 'repo-01');
  assert.equal(escapeLabelValue('user@example.com'), 'user@example.com');
  assert.equal(escapeLabelValue('a\\b'), 'a\\\\b');
  assert.equal(escapeLabelValue('be"ta'), 'be\\"ta');
  assert.equal(escapeLabelValue('x\ny'), 'x\\ny');
  assert.equal(escapeLabelValue('"\\\n'), '\\"\\\\\\n');
});
