import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig, type Tree } from './fixtures/configs.ts';

function withChange(path: string[], value: unknown): string {
  return toYaml(setIn(validConfig(), path, value));
}

test('a misspelt key is named, with the key it probably meant', () => {
  const tree = validConfig();
  const api = (tree.repos as Record<string, Tree>).api!;
  api.authorised_senders = api.authorized_senders;
  delete api.authorized_senders;
  const problems = problemsOf(toYaml(tree));
  assert.equal(messageAt(problems, 'repos.api.authorised_senders'), 'unknown key (did you mean authorized_senders?)');
  // The typo explains the missing key; it is not reported a second time.
  assert.equal(problems.length, 1);
});

test('an unknown key far from any known one lists the keys that are allowed', () => {
  const problems = problemsOf(withChange(['execution', 'parallelism'], 2));
  assert.equal(
    messageAt(problems, 'execution.parallelism'),
    'unknown key (expected one of: backend, max_concurrent, shutdown_timeout, conversation_max_age_days, image_build_timeout, image_max_age_hours, resilient_start)',
  );
});

test('unknown keys are refused at every level', () => {
  for (const path of [['extra'], ['dashboard', 'extra'], ['claude', 'extra'], ['repos', 'api', 'extra'], ['repos', 'api', 'git', 'extra'],
    ['repos', 'api', 'email', 'extra'], ['repos', 'api', 'imap', 'extra']]) {
    const problems = problemsOf(withChange(path, 1));
    assert.match(messageAt(problems, path.join('.')), /^unknown key/);
  }
});

test('ports must be integers from 1 to 65535', () => {
  for (const bad of [0, 65536, 99999, 99.5, '993', true]) {
    const problems = problemsOf(withChange(['repos', 'api', 'email', 'imap_port'], bad));
    assert.equal(messageAt(problems, 'repos.api.email.imap_port'), 'must be an integer from 1 to 65535');
  }
  const problems = problemsOf(withChange(['dashboard', 'port'], -1));
  assert.equal(messageAt(problems, 'dashboard.port'), 'must be an integer from 1 to 65535');
});

test('wrong types are named in plain words', () => {
  const cases: [string[], unknown, string][] = [
    [['execution', 'max_concurrent'], 'three', 'must be an integer from 1 to 1000'],
    [['execution', 'max_concurrent'], 1001, 'must be an integer from 1 to 1000'],
    [['execution', 'shutdown_timeout'], -5, 'must be an integer from 0 to 86400'],
    [['dashboard', 'enabled'], 'yes', 'must be true or false'],
    [['repos', 'api', 'imap', 'use_idle'], 1, 'must be true or false'],
    [['repos', 'api', 'email'], 'mail.example.com', 'must be a mapping (key: value lines)'],
    [['repos', 'api', 'authorized_senders'], 'admin@example.com', 'must be a list'],
    [['repos', 'api', 'email', 'username'], 42, 'must be a string'],
    [['repos', 'api', 'secrets'], ['A'], 'must be a mapping (key: value lines) (or be left empty)'],
    [['container_command'], 'lxc', 'must be one of: podman, docker'],
    [['repos', 'api', 'email', 'imap_security'], 'ssl', 'must be one of: tls, starttls, none'],
    [['repos', 'api', 'authorized_senders'], [], 'must list at least one entry'],
    [['repos', 'api', 'email', 'password'], '', 'must not be empty'],
  ];
  for (const [path, value, expected] of cases) {
    const problems = problemsOf(withChange(path, value));
    assert.equal(messageAt(problems, path.join('.')), expected, `for ${path.join('.')} = ${JSON.stringify(value)}`);
  }
});

test('missing required keys are named one by one', () => {
  const tree = validConfig();
  const api = (tree.repos as Record<string, Tree>).api!;
  delete (api.email as Tree).username;
  delete (api.email as Tree).password;
  delete api.git;
  delete api.trusted_authserv_id;
  const problems = problemsOf(toYaml(tree));
  for (const path of ['repos.api.email.username', 'repos.api.git', 'repos.api.trusted_authserv_id']) {
    assert.equal(messageAt(problems, path), 'is required');
  }
  // A password is one of three login methods; without any, the problem says which there are.
  assert.match(messageAt(problems, 'repos.api.email'), /needs a login: password .*microsoft_oauth2 .*oauth2/);
});

test('masked secrets and signing credentials are checked in depth', () => {
  const tree = validConfig();
  const api = (tree.repos as Record<string, Tree>).api!;
  api.masked_secrets = { GH_TOKEN: { value: 'ghp-secret-value', scopes: [], headers: 'Authorization' } };
  api.signing_credentials = {
    AWS: { type: 'aws-sigv2', access_key_id: { name: 'AWS_ACCESS_KEY_ID' }, secret_access_key: { name: 'K', value: 'v' }, scopes: ['a', 'a'] },
  };
  const problems = problemsOf(toYaml(tree));
  assert.equal(messageAt(problems, 'repos.api.masked_secrets.GH_TOKEN.scopes'), 'must list at least one entry');
  assert.equal(messageAt(problems, 'repos.api.masked_secrets.GH_TOKEN.headers'), 'must be a list');
  assert.equal(messageAt(problems, 'repos.api.signing_credentials.AWS.type'), 'must be one of: aws-sigv4');
  assert.equal(messageAt(problems, 'repos.api.signing_credentials.AWS.access_key_id.value'), 'is required');
  assert.equal(messageAt(problems, 'repos.api.signing_credentials.AWS.scopes'), 'lists the same entry twice ([0] and [1])');
});

test('messages never use ajv wording', () => {
  const tree = validConfig();
  setIn(tree, ['extra'], 1);
  setIn(tree, ['repos', 'api', 'email', 'imap_port'], 'x');
  setIn(tree, ['repos', 'api', 'authorized_senders'], []);
  setIn(tree, ['repos', 'api', 'email', 'imap_security'], 'ssl');
  const problems = problemsOf(toYaml(tree));
  for (const p of problems) assert.doesNotMatch(p.message, /must NOT|additional properties|must have required property|must be equal to/);
});

test('several problems are reported together, across all stages', () => {
  const tree = validConfig();
  setIn(tree, ['execution', 'max_concurrent'], 0);
  setIn(tree, ['repos', 'api', 'email', 'smtp_port'], 70000);
  setIn(tree, ['repos', 'web', 'storage_dir'], '/srv/airut/api/');
  const text = toYaml(tree).replace('password: password-of-web', 'password: !env WEB_PASSWORD');
  const problems = problemsOf(text);
  assert.deepEqual(
    problems.map((p) => p.path),
    ['execution.max_concurrent', 'repos.api.email.smtp_port', 'repos.web.email.password', 'repos.web.storage_dir'],
  );
});

test('task_output.max_kept_file_bytes_per_task: an integer from 0 (keep none) to 1 TiB', () => {
  for (const bad of [-1, 1.5, '50M', 1099511627777]) {
    const problems = problemsOf(withChange(['task_output', 'max_kept_file_bytes_per_task'], bad));
    assert.equal(messageAt(problems, 'task_output.max_kept_file_bytes_per_task'), 'must be an integer from 0 to 1099511627776');
  }
  assert.equal(parse(withChange(['task_output', 'max_kept_file_bytes_per_task'], 0)).global.taskOutput.maxKeptFileBytesPerTask, 0);
});
