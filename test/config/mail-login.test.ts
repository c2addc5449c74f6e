/**
 * How a repository logs in to its mailbox (password, microsoft_oauth2, oauth2) and checks
 * certificates (tls.ca_file, tls.insecure_skip_verify): what loads, what is refused and why, and
 * what --check says about it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runConfigCheck } from '../../src/config/check.ts';
import { formatConfigSummary } from '../../src/config/summary.ts';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig, type Tree } from './fixtures/configs.ts';

const MS = { tenant_id: 'contoso.onmicrosoft.com', client_id: 'client-1', client_secret: 'ms-secret-4f1c' };
const GOOGLE = { token_url: 'https://oauth2.googleapis.com/token', client_id: 'g-client', client_secret: 'g-secret-77a0', refresh_token: 'g-refresh-91be' };

function withEmail(change: Record<string, unknown>): Tree {
  const tree = validConfig();
  for (const [key, value] of Object.entries(change)) setIn(tree, ['repos', 'api', 'email', key], value);
  return tree;
}

test('microsoft_oauth2 replaces the password: client credentials against the tenant endpoint, Exchange scope', () => {
  const cfg = parse(toYaml(withEmail({ password: undefined, microsoft_oauth2: MS })));
  assert.deepEqual(cfg.repos.api!.email.login, {
    kind: 'oauth2',
    provider: 'microsoft',
    grant: 'client_credentials',
    tokenUrl: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
    clientId: 'client-1',
    clientSecret: 'ms-secret-4f1c',
    refreshToken: null,
    scope: 'https://outlook.office365.com/.default',
    tenantId: 'contoso.onmicrosoft.com',
  });
  const local = parse(toYaml(withEmail({ password: undefined, microsoft_oauth2: { ...MS, token_url: 'http://127.0.0.1:9/t/token' } })));
  assert.equal(local.repos.api!.email.login.kind === 'oauth2' && local.repos.api!.email.login.tokenUrl, 'http://127.0.0.1:9/t/token');
});

test('oauth2 replaces the password: a refresh token at the given endpoint, no scope unless set', () => {
  const cfg = parse(toYaml(withEmail({ password: undefined, oauth2: GOOGLE })));
  const login = cfg.repos.api!.email.login;
  assert.equal(login.kind, 'oauth2');
  if (login.kind !== 'oauth2') return;
  assert.equal(login.grant, 'refresh_token');
  assert.equal(login.refreshToken, 'g-refresh-91be');
  assert.equal(login.scope, null);
  assert.equal(login.tokenUrl, GOOGLE.token_url);
});

test('exactly one login method: none, or two, is refused with a message that names them', () => {
  assert.match(messageAt(problemsOf(toYaml(withEmail({ password: undefined }))), 'repos.api.email'), /needs a login: password .* microsoft_oauth2 .* oauth2/);
  assert.match(messageAt(problemsOf(toYaml(withEmail({ microsoft_oauth2: MS }))), 'repos.api.email'), /sets password and microsoft_oauth2; choose one/);
  assert.match(messageAt(problemsOf(toYaml(withEmail({ password: undefined, microsoft_oauth2: MS, oauth2: GOOGLE }))), 'repos.api.email'), /microsoft_oauth2 and oauth2/);
});

test('the OAuth2 blocks are checked in depth, and no secret appears in a problem', () => {
  const problems = problemsOf(toYaml(withEmail({ password: undefined, microsoft_oauth2: { tenant_id: 'a/b', client_secret: 'ms-secret-4f1c' } })));
  assert.equal(messageAt(problems, 'repos.api.email.microsoft_oauth2.client_id'), 'is required');
  assert.match(messageAt(problems, 'repos.api.email.microsoft_oauth2.tenant_id'), /Directory \(tenant\) ID/);
  const generic = problemsOf(toYaml(withEmail({ password: undefined, oauth2: { ...GOOGLE, refresh_token: undefined, extra: 1 } })));
  assert.equal(messageAt(generic, 'repos.api.email.oauth2.refresh_token'), 'is required');
  for (const p of [...problems, ...generic]) assert.ok(!/ms-secret-4f1c|g-secret-77a0/.test(p.message), p.message);
});

test('a token endpoint must be https, except on loopback, and must be a URL', () => {
  const at = 'repos.api.email.oauth2.token_url';
  assert.match(messageAt(problemsOf(toYaml(withEmail({ password: undefined, oauth2: { ...GOOGLE, token_url: 'http://tokens.example.com/token' } }))), at), /must be an https:\/\/ URL .*http:\/\/tokens\.example\.com is not/);
  assert.match(messageAt(problemsOf(toYaml(withEmail({ password: undefined, oauth2: { ...GOOGLE, token_url: 'oauth2.googleapis.com/token' } }))), at), /is not a URL/);
  assert.doesNotThrow(() => parse(toYaml(withEmail({ password: undefined, oauth2: { ...GOOGLE, token_url: 'http://localhost:8080/token' } }))));
});

test('tls.ca_file is read at load: a good PEM is kept, a missing or non-PEM file is a problem naming the path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-ca-'));
  try {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    fs.writeFileSync(path.join(dir, 'ca.pem'), pem);
    fs.writeFileSync(path.join(dir, 'not.pem'), 'hello');
    const good = parse(toYaml(withEmail({ tls: { ca_file: path.join(dir, 'ca.pem') } })));
    assert.deepEqual(good.repos.api!.email.tls, { caFile: path.join(dir, 'ca.pem'), caPem: pem, insecureSkipVerify: false });
    assert.match(messageAt(problemsOf(toYaml(withEmail({ tls: { ca_file: path.join(dir, 'missing.pem') } }))), 'repos.api.email.tls.ca_file'), /cannot read .*missing\.pem \(ENOENT\)/);
    assert.match(messageAt(problemsOf(toYaml(withEmail({ tls: { ca_file: path.join(dir, 'not.pem') } }))), 'repos.api.email.tls.ca_file'), /holds no PEM certificate/);
    assert.match(
      messageAt(problemsOf(toYaml(withEmail({ tls: { ca_file: path.join(dir, 'ca.pem'), insecure_skip_verify: true } }))), 'repos.api.email.tls'),
      /both ca_file and insecure_skip_verify/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--check shows the login redacted and warns about every setting that trusts less', () => {
  const tree = withEmail({ password: undefined, microsoft_oauth2: MS, tls: { insecure_skip_verify: true } });
  setIn(tree, ['repos', 'api', 'trusted_authserv_id'], '');
  setIn(tree, ['repos', 'api', 'microsoft_internal_fallback'], true);
  setIn(tree, ['repos', 'web', 'email', 'password'], undefined);
  setIn(tree, ['repos', 'web', 'email', 'oauth2'], GOOGLE);
  const out = formatConfigSummary(parse(toYaml(tree)));
  assert.match(out, /login: +Microsoft 365 OAuth2 \(client credentials\): tenant contoso\.onmicrosoft\.com, client client-1, secret \*\*\*/);
  assert.match(out, /login: +OAuth2 \(refresh token\): client g-client, secret \*\*\*, refresh token \*\*\*, token from https:\/\/oauth2\.googleapis\.com\/token/);
  assert.match(out, /tls: +certificates NOT checked/);
  assert.match(out, /warnings \(3\):/);
  assert.match(out, /repos\.api\.email\.tls\.insecure_skip_verify: any certificate is accepted/);
  assert.match(out, /repos\.api\.trusted_authserv_id is empty/);
  assert.match(out, /repos\.api\.microsoft_internal_fallback: .*X-MS-Exchange-Organization-AuthAs/);
  for (const secret of ['ms-secret-4f1c', 'g-secret-77a0', 'g-refresh-91be']) assert.ok(!out.includes(secret), `--check printed ${secret}`);

  const plain = formatConfigSummary(parse(toYaml(validConfig())));
  assert.doesNotMatch(plain, /warnings/);
  assert.match(plain, /login: +password \*\*\*/);
});

test('--check exits 0 with warnings: they are advice, not errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-check-'));
  try {
    const tree = validConfig();
    setIn(tree, ['repos', 'api', 'trusted_authserv_id'], '');
    const file = path.join(dir, 'airut.yaml');
    fs.writeFileSync(file, toYaml(tree));
    let out = '';
    const code = runConfigCheck(['--check', '--config', file], {}, { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } });
    assert.equal(code, 0);
    assert.match(out, /warnings \(1\):\n {2}- repos\.api\.trusted_authserv_id is empty/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
