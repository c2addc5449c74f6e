import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runConfigCheck } from '../../src/config/check.ts';
import { capture, EXAMPLE_ENV, setIn, toYaml, validConfig } from './fixtures/configs.ts';

const EXAMPLE = new URL('../../config/airut.example.yaml', import.meta.url).pathname;

test('--check on a valid file exits 0 and prints a summary without secret values', () => {
  const io = capture();
  const code = runConfigCheck(['--check', '--config', EXAMPLE], { ...EXAMPLE_ENV }, io);
  assert.equal(code, 0);
  assert.equal(io.err(), '');
  const out = io.out();
  assert.match(out, /configuration OK/);
  assert.match(out, /airut@mail\.example\.com:993\/tls/);
  assert.match(out, /mail\.example\.com:587\/starttls/);
  assert.match(out, /1 authorized sender\b/);
  assert.match(out, /secrets: +CLAUDE_CODE_OAUTH_TOKEN, GH_TOKEN, R2_ACCESS_KEY_ID/);
  assert.match(out, /email-service-storage\/another-repo/);
  for (const value of Object.values(EXAMPLE_ENV)) assert.ok(!out.includes(value), `summary leaks ${value}`);
});

test('--check on a broken file exits 1 and prints every problem on stderr', () => {
  const io = capture();
  const code = runConfigCheck(['--check'], { AIRUT_CONFIG: EXAMPLE, EMAIL_PASSWORD_AIRUT: 'x' }, io);
  assert.equal(code, 1);
  assert.equal(io.out(), '');
  assert.match(io.err(), /repos\.another-repo\.email\.password: environment variable EMAIL_PASSWORD_OTHER is not set/);
  assert.match(io.err(), /repos\.airut\.secrets\.GH_TOKEN: environment variable GH_TOKEN_AIRUT is not set/);
});

test('--check on a missing file exits 1 and says how to create one', () => {
  const io = capture();
  assert.equal(runConfigCheck(['--config=/nonexistent/airut.yaml'], {}, io), 1);
  assert.match(io.err(), /\/nonexistent\/airut\.yaml does not exist.*cp config\/airut\.example\.yaml/);
});

test('no secret value appears in any error message', () => {
  const secrets = {
    EMAIL_PW: 'pw-9f8e7d6c5b4a',
    TOKEN: 'tok-0a1b2c3d4e5f',
  };
  const tree = validConfig();
  // Secrets in wrong places and of wrong shapes, next to other mistakes.
  setIn(tree, ['repos', 'api', 'email', 'password'], 'inline-pw-1234567');
  setIn(tree, ['repos', 'api', 'email', 'imap_security'], 'none');
  setIn(tree, ['repos', 'api', 'secrets'], { lower_name: 'inline-secret-7654321', OK_NAME: 'inline-secret-2' });
  setIn(tree, ['repos', 'api', 'masked_secrets'], { OK_NAME: { value: 'inline-masked-99999', scopes: [] } });
  setIn(tree, ['dashboard', 'auth_token'], 'inline-dash-token-42');
  setIn(tree, ['repos', 'web', 'email', 'from'], 'not an address');
  const text = toYaml(tree)
    .replace('password: password-of-web', 'password: !env EMAIL_PW\n      imap_port: !env TOKEN')
    .replace('trusted_authserv_id: mail.example.com', 'trusted_authserv_id: !env MISSING');
  const dir = mkdtempSync(path.join(tmpdir(), 'airut-check-'));
  try {
    const file = path.join(dir, 'airut.yaml');
    writeFileSync(file, text);
    const io = capture();
    assert.equal(runConfigCheck(['--config', file], secrets, io), 1);
    const err = io.err();
    assert.match(err, /repos\.web\.email\.imap_port: must be an integer/);
    assert.doesNotMatch(err, /already defined/, 'a name in two pools is a warning, not an error');
    for (const value of [...Object.values(secrets), 'inline-pw-1234567', 'inline-secret-7654321', 'inline-secret-2', 'inline-masked-99999', 'inline-dash-token-42']) {
      assert.ok(!err.includes(value), `error output leaks ${value}:\n${err}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--check warns which entry wins when one name is in two credential pools, and still exits 0', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'api', 'secrets'], { GH_TOKEN: 'plain-secret-value-1' });
  setIn(tree, ['repos', 'api', 'masked_secrets'], { GH_TOKEN: { value: 'ghp_maskedvalue1234', scopes: ['api.github.com'], headers: ['Authorization'] } });
  const dir = mkdtempSync(path.join(tmpdir(), 'airut-check-'));
  try {
    const file = path.join(dir, 'airut.yaml');
    writeFileSync(file, toYaml(tree));
    const io = capture();
    assert.equal(runConfigCheck(['--config', file], {}, io), 0, io.err());
    assert.match(io.out(), /repos\.api\.secrets\.GH_TOKEN is not used: repos\.api\.masked_secrets\.GH_TOKEN defines GH_TOKEN too and wins/);
    assert.ok(!io.out().includes('plain-secret-value-1') && !io.out().includes('ghp_maskedvalue1234'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
