import { test } from 'node:test';
import assert from 'node:assert/strict';
import { poolShadowWarnings } from '../../src/config/credential-pools.ts';
import type { GithubAppCredential } from '../../src/config/types.ts';
import { mergePools, taskCredentials } from '../../src/runner/task-credentials.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

const app: GithubAppCredential = {
  appId: 'Iv1',
  privateKey: 'unused: nothing is minted here',
  installationId: '1',
  scopes: ['api.github.com'],
  allowForeignCredentials: false,
  baseUrl: 'https://api.github.com',
  permissions: null,
  repositories: null,
};
const masked = (value: string) => ({ value, scopes: ['api.github.com'], headers: ['Authorization'], allowForeignCredentials: false });

test('mergePools: the first pool holding a name wins; empty values are left out', () => {
  assert.deepEqual(mergePools([{ A: 'sign', B: '' }, { A: 'app', B: 'app-b' }, { C: 'masked' }, { A: 'plain', C: 'plain', D: 'plain', E: '' }]), {
    A: 'sign',
    B: 'app-b',
    C: 'masked',
    D: 'plain',
  });
});

test('every pool is injected under its name, in Airut precedence: signing > github app > masked > secrets', () => {
  const repo = testRepoServerConfig('r', {
    secrets: { PLAIN: 'plain-value', GH_TOKEN: 'plain-gh', API_KEY: 'plain-key', AWS_ACCESS_KEY_ID: 'plain-aws', EMPTY: '' },
    maskedSecrets: { GH_TOKEN: masked('ghp_maskedMasked000000'), API_KEY: masked('sk-realKey12345') },
    githubAppCredentials: { GH_TOKEN: app },
  });
  const { env, rules } = taskCredentials(repo, { AWS_ACCESS_KEY_ID: 'AKIASURROGATE0000000' });
  assert.equal(env.AWS_ACCESS_KEY_ID, 'AKIASURROGATE0000000', 'signing wins over secrets');
  assert.match(env.GH_TOKEN!, /^ghs_[A-Za-z0-9]{36}$/, 'the GitHub App wins over masked and plain');
  assert.match(env.API_KEY!, /^sk-[a-zA-Z]{7}\d{5}$/, 'masked wins over plain');
  assert.notEqual(env.API_KEY, 'sk-realKey12345');
  assert.equal(env.PLAIN, 'plain-value');
  assert.ok(!('EMPTY' in env), 'empty values are not injected');
  // Only the winners' surrogates reach the container, so only their rules are kept.
  assert.deepEqual(rules.map((r) => r.name).sort(), ['API_KEY', 'GH_TOKEN']);
  assert.equal(rules.find((r) => r.name === 'GH_TOKEN')!.surrogate, env.GH_TOKEN);
  assert.ok(!Object.values(env).includes('ghp_maskedMasked000000') && !Object.values(env).includes('sk-realKey12345'), 'no masked value in the env');
});

test('each task gets new surrogates', () => {
  const repo = testRepoServerConfig('r', { maskedSecrets: { API_KEY: masked('sk-realKey12345') }, githubAppCredentials: { GH_TOKEN: app } });
  const a = taskCredentials(repo, {}).env;
  const b = taskCredentials(repo, {}).env;
  assert.notEqual(a.API_KEY, b.API_KEY);
  assert.notEqual(a.GH_TOKEN, b.GH_TOKEN);
});

test('a name in several pools is a warning naming the entry that wins', () => {
  const repo = testRepoServerConfig('r', {
    secrets: { GH_TOKEN: 'plain', OTHER: 'x' },
    maskedSecrets: { GH_TOKEN: masked('ghp_x0000000000') },
    githubAppCredentials: { GH_TOKEN: app },
  });
  const warnings = poolShadowWarnings(repo);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^repos\.r\.masked_secrets\.GH_TOKEN is not used: repos\.r\.github_app_credentials\.GH_TOKEN defines GH_TOKEN too and wins/);
  assert.match(warnings[1]!, /^repos\.r\.secrets\.GH_TOKEN is not used: repos\.r\.github_app_credentials\.GH_TOKEN/);
  assert.deepEqual(poolShadowWarnings(testRepoServerConfig('r', { secrets: { A: '1' } })), []);
});
