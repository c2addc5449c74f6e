/** The task API's checks that depend on the request's scope and the repository's settings. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FULL_ACCESS, type AccessScope } from '../../src/dashboard/access-scope.ts';
import { DashboardError } from '../../src/dashboard/http-error.ts';
import { checkBudget, checkReplyTo, submittableRepos, visibleRepo } from '../../src/dashboard/submit-rules.ts';
import { makeConfig } from './helpers.ts';

const base = makeConfig(['alpha', 'beta', 'gamma']);
const config = { ...base, repos: { ...base.repos, alpha: { ...base.repos.alpha!, companions: { beta: 'write' as const, gamma: 'read' as const } } } };
const scoped = (repos: string[], submit: boolean): AccessScope => ({ admin: false, repos: new Set(repos), submit, tokenName: 'team-a' });
const choice = (repo: string) => ({ repo, branch: null, access: null });

function refusal(fn: () => unknown): { status: number; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DashboardError);
    return { status: err.status, message: err.message };
  }
  assert.fail('expected a refusal');
}

describe('task API rules', () => {
  it('sees a repository in scope, and answers an out-of-scope one exactly like an unknown one', () => {
    assert.equal(visibleRepo(config, scoped(['alpha'], true), 'alpha').repoId, 'alpha');
    assert.deepEqual(refusal(() => visibleRepo(config, scoped(['alpha'], true), 'beta')), refusal(() => visibleRepo(config, FULL_ACCESS, 'nope')));
    assert.deepEqual(refusal(() => visibleRepo(config, FULL_ACCESS, 'nope')), { status: 404, message: 'no such repository' });
  });

  it('refuses a companion outside the scope with 404, and a read-only token on its own repository with 403', () => {
    assert.equal(refusal(() => submittableRepos(config, scoped(['alpha'], true), choice('alpha'), [choice('beta')])).status, 404);
    assert.deepEqual(refusal(() => submittableRepos(config, scoped(['alpha'], false), choice('alpha'), [])), { status: 403, message: 'this token may only read' });
    // Out of scope wins over read-only: a read-only token learns nothing of a repository it cannot see.
    assert.equal(refusal(() => submittableRepos(config, scoped(['alpha'], false), choice('beta'), [])).status, 404);
    const ok = submittableRepos(config, scoped(['alpha', 'beta'], true), choice('alpha'), [{ repo: 'beta', branch: 'dev', access: 'read' }]);
    assert.deepEqual(ok.requestedRepos, [{ name: 'beta', branch: 'dev', access: 'read' }]);
  });

  it('refuses a companion the primary does not list, or more access than it grants, at once with 400', () => {
    const plain = { ...config, repos: { ...config.repos, alpha: { ...config.repos.alpha!, companions: {} } } };
    assert.deepEqual(refusal(() => submittableRepos(plain, FULL_ACCESS, choice('alpha'), [choice('beta')])), {
      status: 400,
      message: 'repositories: beta is not a companion of alpha; it allows no companion repositories',
    });
    const onlyGamma = { ...config, repos: { ...config.repos, alpha: { ...config.repos.alpha!, companions: { gamma: 'read' as const } } } };
    assert.match(refusal(() => submittableRepos(onlyGamma, FULL_ACCESS, choice('alpha'), [choice('beta')])).message, /it allows: gamma \(read\)/);
    assert.deepEqual(refusal(() => submittableRepos(config, FULL_ACCESS, choice('alpha'), [{ repo: 'gamma', branch: null, access: 'write' }])), {
      status: 400,
      message: 'repositories: alpha grants gamma read access only',
    });
    assert.deepEqual(submittableRepos(config, FULL_ACCESS, choice('alpha'), [choice('gamma')]).requestedRepos, [{ name: 'gamma' }]);
  });

  it('checks the budget against budget.task_usd and reply_to against authorized_senders', () => {
    const repo = { ...config.repos.alpha!, budget: { ...config.repos.alpha!.budget, taskUsd: 1 }, authorizedSenders: ['*@team.example'] };
    checkBudget(repo, 1);
    assert.equal(refusal(() => checkBudget(repo, 1.5)).status, 400);
    assert.equal(checkReplyTo(repo, 'Bob@Team.example'), 'bob@team.example');
    assert.equal(refusal(() => checkReplyTo(repo, 'bob@sub.team.example')).status, 400);
    assert.equal(refusal(() => checkReplyTo(repo, 'api+admin@airut.invalid')).status, 400);
  });
});
