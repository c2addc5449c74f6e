import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveTaskTimeout } from '../../src/limits/task-timeout.ts';

const cases: Array<[server: number | null, repo: number | null, timeout: number, lowered: number | null]> = [
  [null, null, 300, null],
  [null, 6000, 6000, null],
  [600, null, 600, null],
  [600, 120, 120, null],
  [600, 600, 600, null],
  [600, 6000, 600, 6000],
];

for (const [server, repo, timeout, lowered] of cases) {
  test(`task timeout: server ${server}, repository ${repo} → ${timeout}${lowered === null ? '' : ` (lowers ${lowered})`}`, () => {
    assert.deepEqual(effectiveTaskTimeout(server, repo, 300), { timeoutSeconds: timeout, loweredRepoSeconds: lowered });
  });
}
