import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageAt, parse, problemsOf, toYaml, validConfig } from './fixtures/configs.ts';

const withEnvPassword = (variable: string): string =>
  toYaml(validConfig()).replace('password: password-of-api', `password: !env ${variable}`);

test('!env reads an environment variable', () => {
  const cfg = parse(withEnvPassword('EMAIL_PASSWORD_API'), { EMAIL_PASSWORD_API: 'from-the-environment' });
  assert.deepEqual(cfg.repos.api!.email.login, { kind: 'password', password: 'from-the-environment' });
});

test('a missing variable names the variable and the field', () => {
  const problems = problemsOf(withEnvPassword('EMAIL_PASSWORD_API'));
  assert.equal(messageAt(problems, 'repos.api.email.password'), 'environment variable EMAIL_PASSWORD_API is not set');
  assert.equal(problems.length, 1, 'the empty stand-in value must not cause a second problem');
});

test('every missing variable is reported, not just the first', () => {
  const text = `${toYaml(validConfig())
    .replace('password: password-of-api', 'password: !env PW_API')
    .replace('password: password-of-web', 'password: !env PW_WEB')}`.replace(
    'repos:\n',
    'dashboard:\n  auth_token: !env DASHBOARD_TOKEN\nrepos:\n',
  );
  const problems = problemsOf(text, { PW_WEB: 'set' });
  assert.deepEqual(
    problems.map((p) => `${p.path}: ${p.message}`),
    ['dashboard.auth_token: environment variable DASHBOARD_TOKEN is not set', 'repos.api.email.password: environment variable PW_API is not set'],
  );
});

test('!env works inside secret maps and lists, with the full path in problems', () => {
  const text = `${toYaml(validConfig())}`.replace(
    '  web:\n',
    '  web:\n    secrets:\n      GH_TOKEN: !env GH_TOKEN_WEB\n    masked_secrets:\n      NPM_TOKEN:\n        value: !env NPM_TOKEN_WEB\n        scopes: [registry.npmjs.org]\n        headers: [Authorization]\n',
  );
  const problems = problemsOf(text, { NPM_TOKEN_WEB: 'x' });
  assert.equal(messageAt(problems, 'repos.web.secrets.GH_TOKEN'), 'environment variable GH_TOKEN_WEB is not set');
  const cfg = parse(text, { GH_TOKEN_WEB: 'gh', NPM_TOKEN_WEB: 'npm' });
  assert.equal(cfg.repos.web!.secrets.GH_TOKEN, 'gh');
  assert.equal(cfg.repos.web!.maskedSecrets.NPM_TOKEN!.value, 'npm');
});

test('!env without a proper variable name is refused', () => {
  assert.match(messageAt(problemsOf(withEnvPassword('')), 'repos.api.email.password'), /needs a variable name/);
  assert.match(messageAt(problemsOf(withEnvPassword('TWO WORDS')), 'repos.api.email.password'), /"TWO WORDS" is not a valid variable name/);
});

test('an !env value in a numeric field explains that !env gives strings', () => {
  const text = toYaml(validConfig()).replace('username: api', 'username: api\n      imap_port: !env IMAP_PORT');
  assert.equal(
    messageAt(problemsOf(text, { IMAP_PORT: '993' }), 'repos.api.email.imap_port'),
    'must be an integer from 1 to 65535 (a value from !env is always a string)',
  );
});

test('YAML syntax errors give line and column', () => {
  const problems = problemsOf('execution:\n  max_concurrent: 3\n   shutdown_timeout: 60\n');
  assert.equal(problems.length >= 1, true);
  assert.match(problems[0]!.message, /^line \d+, column \d+: /);
  const dup = problemsOf('execution:\n  max_concurrent: 3\n  max_concurrent: 4\n');
  assert.match(dup[0]!.message, /^line 3, column 3: .*unique/);
});

test('tags other than !env are refused, not read as text', () => {
  const problems = problemsOf(withEnvPassword('X').replace('!env X', '!secret EMAIL_PASSWORD'));
  assert.match(problems[0]!.message, /^line \d+, column \d+: unknown tag !secret/);
  const onMapping = problemsOf('execution: !env\n  max_concurrent: 3\n');
  assert.match(onMapping[0]!.message, /!env must be followed by a variable name/);
});

test('syntax error messages do not quote the source line (it may hold a password)', () => {
  const problems = problemsOf('repos:\n  api:\n    email:\n      password: "hunter2-very-secret\n');
  for (const p of problems) assert.doesNotMatch(p.message, /hunter2/);
});
