import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pushedMarkdown } from '../../src/runner/pushed-branches.ts';

test('names branches and tags per repository, with host and path', () => {
  assert.equal(
    pushedMarkdown([
      { host: 'github.com', repoPath: '/acme/app.git', refs: ['refs/heads/fix-login'] },
      { host: 'git.test:8443', repoPath: '/x/y', refs: ['refs/heads/a', 'refs/heads/b', 'refs/tags/v1', 'refs/notes/commits'] },
    ]),
    'Pushed branch `fix-login` to `github.com/acme/app.git`.\n\n' +
      'Pushed branches `a`, `b` and tag `v1` and ref `refs/notes/commits` to `git.test:8443/x/y`.',
  );
});

test('nothing pushed: no line', () => {
  assert.equal(pushedMarkdown([]), '');
  assert.equal(pushedMarkdown([{ host: 'github.com', repoPath: '/a/b.git', refs: [] }]), '');
});

test('a branch name with backticks or a newline stays inside its code span', () => {
  const md = pushedMarkdown([{ host: 'github.com', repoPath: '/a/b.git', refs: ['refs/heads/x`y', 'refs/heads/p\nq'] }]);
  assert.equal(md, 'Pushed branches `` x`y ``, `p q` to `github.com/a/b.git`.');
});
