import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repoSecretValues } from '../../src/config/secret-values.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

test("a repository's secret values include every pool's real values and a GitHub App's private key, whole and line by line", () => {
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuLine1xxxxxxxxxxxxxx\nMIIEowIBAAKCAQEAuLine2yyyyyyyyyyyyyy\n-----END RSA PRIVATE KEY-----\n';
  const repo = testRepoServerConfig('r', {
    secrets: { PLAIN: 'plain-value-1' },
    maskedSecrets: { M: { value: 'masked-value-2', scopes: ['x.test'], headers: ['Authorization'], allowForeignCredentials: false } },
    githubAppCredentials: {
      GH: { appId: 'Iv1', privateKey: pem, installationId: '1', scopes: ['x.test'], allowForeignCredentials: false, baseUrl: 'https://api.github.com', permissions: null, repositories: null },
    },
  });
  const values = repoSecretValues(repo);
  for (const v of ['plain-value-1', 'masked-value-2', pem, 'MIIEowIBAAKCAQEAuLine1xxxxxxxxxxxxxx', 'MIIEowIBAAKCAQEAuLine2yyyyyyyyyyyyyy']) assert.ok(values.includes(v), v);
  assert.ok(!values.includes('-----BEGIN RSA PRIVATE KEY-----'), 'the armour lines are not secrets');
});
