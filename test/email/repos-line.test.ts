import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REPOS_LINE_CHARS, MAX_REQUESTED_REPOS, parseReposLine } from '../../src/email/repos-line.ts';

test('no Repos: line leaves the body as it is', () => {
  assert.deepEqual(parseReposLine('Fix the build.\nRepos: backend'), { kind: 'none', body: 'Fix the build.\nRepos: backend' });
  assert.deepEqual(parseReposLine(''), { kind: 'none', body: '' });
});

test('the first non-empty line, any case, commas or spaces, with access and branch; the line leaves the prompt', () => {
  const r = parseReposLine('\n  REPOS:  backend, docs:read tools@release-2:WRITE\n\nFix the build.');
  assert.equal(r.kind, 'repos');
  assert.deepEqual(r.kind === 'repos' && r.repos, [{ name: 'backend' }, { name: 'docs', access: 'read' }, { name: 'tools', branch: 'release-2', access: 'write' }]);
  assert.equal(r.body, 'Fix the build.');
});

const invalid: Array<[string, string, RegExp]> = [
  ['path tricks', 'Repos: ../etc', /not a repository name/],
  ['a slash', 'Repos: a/b', /not a repository name/],
  ['upper case', 'Repos: Backend', /not a repository name/],
  ['an empty line', 'Repos:   ', /names no repository/],
  ['duplicates', 'Repos: docs, docs:read', /names docs twice/],
  ['a bad access', 'Repos: docs:admin', /must be read or write/],
  ['two colons', 'Repos: docs:read:write', /not of the form/],
  ['a branch that is an option', 'Repos: docs@-x', /valid branch/],
  ['a branch with ..', 'Repos: docs@a..b', /valid branch/],
  ['a branch with a reflog', 'Repos: docs@main@{1}', /not of the form|valid branch/],
  ['too many', `Repos: ${Array.from({ length: MAX_REQUESTED_REPOS + 1 }, (_, i) => `r${i}`).join(',')}`, /at most 10/],
  ['a very long line', `Repos: ${'a'.repeat(MAX_REPOS_LINE_CHARS)}`, /longer than 1000 characters/],
];
for (const [what, line, problem] of invalid) {
  test(`a Repos: line with ${what} is refused with the reason, and still leaves the prompt`, () => {
    const r = parseReposLine(`${line}\nthe task`);
    assert.equal(r.kind, 'invalid');
    assert.match(r.kind === 'invalid' ? r.problem : '', problem);
    assert.equal(r.body, 'the task');
  });
}

test('a huge body with a Repos: line is parsed in linear time (no backtracking on the line)', () => {
  const r = parseReposLine(`Repos: ${'a,'.repeat(400)}\n${'x'.repeat(5_000_000)}`);
  assert.equal(r.kind, 'invalid');
});
