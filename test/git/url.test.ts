/**
 * Issue 13, item 5: the credential-free form of a repository URL, the secrets in it, and the
 * scrubbing of a workspace's git config.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasUrlCredentials, publicRepoUrl, scrubGitConfigText, urlSecrets } from '../../src/git/url.ts';
import { redact, redactUrlCredentials } from '../../src/git/redact.ts';

describe('publicRepoUrl', () => {
  const cases: Array<[string, string, string]> = [
    ['user and token', 'https://user:TOKEN123@github.com/o/r.git', 'https://github.com/o/r.git'],
    ['a lone https user name is the token', 'https://ghp_abcdef@github.com/o/r.git', 'https://github.com/o/r.git'],
    ['percent-encoded user info', 'https://us%40er:p%3Ass%2Fw@host.example:8443/r.git', 'https://host.example:8443/r.git'],
    ['a raw @ in the password', 'https://user:p@ss@host.example/r.git', 'https://host.example/r.git'],
    ['query-string token', 'https://gitlab.example/g/r.git?private_token=glpat-XYZ', 'https://gitlab.example/g/r.git'],
    ['fragment', 'https://host.example/r.git#tok=abcd', 'https://host.example/r.git'],
    ['http with port', 'http://u:pw12@127.0.0.1:8080/repo', 'http://127.0.0.1:8080/repo'],
    ['upper-case scheme is kept as written', 'HTTPS://u:pw12@host/r', 'HTTPS://host/r'],
    ['ssh user is an account, not a credential', 'ssh://git@github.com/o/r.git', 'ssh://git@github.com/o/r.git'],
    ['ssh password is dropped', 'ssh://git:hunter22@host.example:2222/r.git', 'ssh://git@host.example:2222/r.git'],
    ['git+ssh', 'git+ssh://deploy:pw99@host/r', 'git+ssh://deploy@host/r'],
    ['scp-style user@host:path is not a credential', 'git@github.com:o/r.git', 'git@github.com:o/r.git'],
    ['local path', '/srv/git/r.git', '/srv/git/r.git'],
    ['file URL', 'file:///srv/git/r.git', 'file:///srv/git/r.git'],
    ['no credentials', 'https://github.com/o/r.git', 'https://github.com/o/r.git'],
  ];
  for (const [what, input, expected] of cases) {
    it(what, () => {
      assert.equal(publicRepoUrl(input), expected);
      assert.equal(hasUrlCredentials(input), input !== expected);
    });
  }
});

describe('urlSecrets and redaction', () => {
  it('finds user info, password and their decoded forms', () => {
    const s = urlSecrets('https://x-access-token:ghp_ab%2Fcd@github.com/o/r.git');
    for (const want of ['x-access-token:ghp_ab%2Fcd', 'ghp_ab%2Fcd', 'ghp_ab/cd']) assert.ok(s.includes(want), want);
  });
  it('finds query-string values', () => {
    const s = urlSecrets('https://gitlab.example/r.git?private_token=glpat-XYZ%3D&x=1');
    assert.ok(s.includes('glpat-XYZ%3D') && s.includes('glpat-XYZ='));
  });
  it('has none for an ssh account name or scp-style URL', () => {
    assert.deepEqual(urlSecrets('ssh://deploy@host/r.git'), []);
    assert.deepEqual(urlSecrets('deploy@host:r.git'), []);
  });
  it('redaction leaves no piece of a password holding a raw @', () => {
    const text = 'fatal: unable to access https://user:p@ss@host.example/r.git/';
    assert.equal(redactUrlCredentials(text), 'fatal: unable to access https://***@host.example/r.git/');
    assert.ok(!redact('token glpat-XYZ in ?private_token=glpat-XYZ', urlSecrets('https://h/r?private_token=glpat-XYZ')).includes('glpat-XYZ'));
  });
});

describe('scrubGitConfigText', () => {
  const config = [
    '[core]',
    '\trepositoryformatversion = 0',
    '[remote "origin"]',
    '\turl = https://user:OLD-TOKEN-1@github.com/o/r.git',
    '\tfetch = +refs/heads/*:refs/remotes/origin/*',
    '[remote "fork"]',
    '\tURL = "https://NEWTOKEN99@host/r.git" ; a comment',
    '\tpushurl = ssh://git@host/r.git',
    '[http]',
    '\textraHeader = Authorization: Bearer NEWTOKEN99',
    '',
  ].join('\n');

  it('makes every remote URL public and removes known secrets elsewhere', () => {
    const out = scrubGitConfigText(config, ['NEWTOKEN99']);
    assert.ok(!out.includes('OLD-TOKEN-1'), 'a token the daemon no longer knows is still removed from a URL');
    assert.ok(!out.includes('NEWTOKEN99'));
    assert.match(out, /\turl = https:\/\/github\.com\/o\/r\.git\n/);
    assert.match(out, /\tURL = "https:\/\/host\/r\.git" ; a comment\n/);
    assert.match(out, /\tpushurl = ssh:\/\/git@host\/r\.git\n/, 'an ssh account name is kept');
    assert.match(out, /extraHeader = Authorization: Bearer \*\*\*/);
    assert.match(out, /fetch = \+refs\/heads\/\*:refs\/remotes\/origin\/\*/);
  });

  it('leaves a clean config byte for byte', () => {
    const clean = '[remote "origin"]\n\turl = https://github.com/o/r.git\n';
    assert.equal(scrubGitConfigText(clean, ['NEWTOKEN99']), clean);
  });
});
