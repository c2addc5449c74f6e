import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CliUsageError } from '../../src/cli/args.ts';
import { buildSubmitRequest, parseRepoList, type SubmitOptions } from '../../src/cli/submit-request.ts';

const U = 'usage';

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof CliUsageError && message.test(err.message));
}

describe('parseRepoList', () => {
  it('reads the primary first, then companions with their branch and access', () => {
    assert.deepEqual(parseRepoList('web, docs:read,lib@release/2:write', U), [
      { repo: 'web', primary: true },
      { repo: 'docs', access: 'read' },
      { repo: 'lib', branch: 'release/2', access: 'write' },
    ]);
  });
  const bad: Array<[string, RegExp]> = [
    ['a,,b', /empty entry/],
    ['a,', /empty entry/],
    ['a,b:rw', /access of b must be read or write, not "rw"/],
    ['a,a:read', /names a twice/],
    ['A-Upper', /not REPO\[@BRANCH\]/],
    ['../etc', /not REPO\[@BRANCH\]/],
    ['a@', /not REPO\[@BRANCH\]/],
    ['a:read:write', /must be read or write/],
  ];
  for (const [spec, message] of bad) it(`refuses ${JSON.stringify(spec)}`, () => refused(() => parseRepoList(spec, U), message));
});

describe('buildSubmitRequest', () => {
  const base: SubmitOptions = { prompt: 'fix the build', attach: [] };

  it('a task for one repository, with every option', () => {
    const r = buildSubmitRequest({ ...base, repo: 'alpha', subject: 's', model: 'opus', effort: 'high', budget: '2.50', replyTo: 'a@example.com' }, '/', U);
    assert.deepEqual(r, {
      path: '/api/tasks',
      body: { repo: 'alpha', prompt: 'fix the build', reply_to: 'a@example.com', subject: 's', model: 'opus', effort: 'high', budget_usd: 2.5 },
    });
  });

  it('a multi-repository task sends `repositories`', () => {
    const r = buildSubmitRequest({ ...base, repos: 'web,docs:read' }, '/', U);
    assert.deepEqual(r.body.repositories, [{ repo: 'web', primary: true }, { repo: 'docs', access: 'read' }]);
    assert.equal('repo' in r.body, false);
  });

  it('attachments are read and sent in base64 under their base name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-attach-'));
    try {
      fs.writeFileSync(path.join(dir, 'notes.bin'), Buffer.from([0, 1, 2, 255]));
      const r = buildSubmitRequest({ ...base, repo: 'alpha', attach: ['notes.bin'] }, dir, U);
      assert.deepEqual(r.body.attachments, [{ name: 'notes.bin', content_base64: 'AAEC/w==' }]);
      refused(() => buildSubmitRequest({ ...base, repo: 'alpha', attach: ['missing.txt'] }, dir, U), /--attach missing\.txt: ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('continuing a conversation posts to its messages, with the repository and id escaped', () => {
    const r = buildSubmitRequest({ ...base, repo: 'alpha', conversation: 'a/b', replyTo: 'x@example.com' }, '/', U);
    assert.deepEqual(r, { path: '/api/conversations/alpha/a%2Fb/messages', body: { prompt: 'fix the build', reply_to: 'x@example.com' } });
  });

  const bad: Array<[string, Partial<SubmitOptions>, RegExp]> = [
    ['no repository', {}, /exactly one of --repo and --repos/],
    ['both --repo and --repos', { repo: 'a', repos: 'a,b' }, /exactly one of --repo and --repos/],
    ['an empty prompt', { repo: 'a', prompt: ' \n' }, /the prompt is empty/],
    ['a repository id with a slash', { repo: 'a/b' }, /is not a repository id/],
    ['a budget that is not a number', { repo: 'a', budget: 'lots' }, /--budget must be a positive amount/],
    ['a zero budget', { repo: 'a', budget: '0' }, /--budget must be a positive amount/],
    ['a negative budget', { repo: 'a', budget: '-1' }, /--budget must be a positive amount/],
    ['--conversation without --repo', { conversation: 'c1' }, /--conversation needs --repo/],
    ['--conversation with --model', { repo: 'a', conversation: 'c1', model: 'opus' }, /--model cannot be given with --conversation/],
    ['--conversation with --repos', { repos: 'a,b', conversation: 'c1' }, /--repos cannot be given with --conversation/],
  ];
  for (const [name, o, message] of bad) it(`refuses ${name}`, () => refused(() => buildSubmitRequest({ ...base, ...o }, '/', U), message));
});
