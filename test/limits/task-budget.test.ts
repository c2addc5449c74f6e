import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveTaskBudget } from '../../src/limits/task-budget.ts';

const cases: Array<[server: number | null, repo: number | null, budget: number | null, ignored: number | null]> = [
  [null, null, null, null],
  [5, null, 5, null],
  [null, 2, 2, null],
  [5, 2, 2, null],
  [5, 5, 5, null],
  [5, 8, 5, 8],
];

for (const [server, repo, budget, ignored] of cases) {
  test(`task budget: server ${server}, repository ${repo} → ${budget}${ignored === null ? '' : ` (ignores ${ignored})`}`, () => {
    assert.deepEqual(effectiveTaskBudget(server, repo), { budgetUsd: budget, ignoredRepoUsd: ignored });
  });
}
