import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { isResilient, loadServerConfigPartial, splitRepoProblems } from '../../src/config/partial-load.ts';
import { repoIdOfPath } from '../../src/config/repo-path.ts';
import { setIn, toYaml, validConfig, validRepo, withConfigFile } from './fixtures/configs.ts';

const apiPasswordFromEnv = (): string => toYaml(validConfig()).replace('password: password-of-api', 'password: !env PW_API');

test('a problem path names its repository: plain, nested, list index and quoted keys', () => {
  assert.equal(repoIdOfPath('repos.api.email.password'), 'api');
  assert.equal(repoIdOfPath('repos.api'), 'api');
  assert.equal(repoIdOfPath('repos.api.authorized_senders[1]'), 'api');
  assert.equal(repoIdOfPath('repos["my.repo"].storage_dir'), 'my.repo');
  assert.equal(repoIdOfPath('repos.api-2[0]'), 'api-2');
});

test('problems outside repos.<id> belong to no repository', () => {
  for (const p of ['', 'repos', 'dashboard.auth_token', 'execution.max_concurrent', 'reposx.api']) assert.equal(repoIdOfPath(p), undefined, p);
});

test('split: each repository gets its problems, the rest are global', () => {
  const { global, byRepo } = splitRepoProblems([
    { path: 'repos.api.email.password', message: 'a' },
    { path: 'dashboard.port', message: 'b' },
    { path: 'repos.web.storage_dir', message: 'c' },
    { path: 'repos.api.git.repo_url', message: 'd' },
  ]);
  assert.deepEqual(global.map((p) => p.message), ['b']);
  assert.deepEqual([...byRepo].map(([id, list]) => [id, list.map((p) => p.message)]), [['api', ['a', 'd']], ['web', ['c']]]);
});

test('a valid file loads whole, with no failed repository', () => {
  const loaded = withConfigFile(toYaml(validConfig()), (file) => loadServerConfigPartial(file, {}));
  assert.deepEqual(Object.keys(loaded.config.repos).sort(), ['api', 'web']);
  assert.deepEqual(loaded.failed, []);
  assert.equal(loaded.error, null);
});

test('a missing !env variable in one repository leaves that repository out, the others load', () => {
  const loaded = withConfigFile(apiPasswordFromEnv(), (file) => loadServerConfigPartial(file, {}));
  assert.deepEqual(Object.keys(loaded.config.repos), ['web']);
  assert.deepEqual(loaded.failed, [{ id: 'api', problems: [{ path: 'repos.api.email.password', message: 'environment variable PW_API is not set' }] }]);
  // What a strict start reports: the whole file's error.
  assert.ok(loaded.error instanceof ConfigError);
  assert.match(loaded.error.message, /repos\.api\.email\.password: environment variable PW_API is not set/);
});

test('resilient: --resilient on the command line, or execution.resilient_start: true in the file; strict otherwise', () => {
  const strict = withConfigFile(apiPasswordFromEnv(), (file) => loadServerConfigPartial(file, {}));
  assert.equal(strict.config.global.resilientStart, false);
  assert.equal(isResilient([], strict.config), false);
  assert.equal(isResilient(['--config', 'x', '--resilient'], strict.config), true);
  const keyed = withConfigFile(apiPasswordFromEnv().replace('repos:\n', 'execution:\n  resilient_start: true\nrepos:\n'), (file) => loadServerConfigPartial(file, {}));
  assert.equal(isResilient([], keyed.config), true);
  assert.deepEqual(Object.keys(keyed.config.repos), ['web']);
});

test('execution.resilient_start must be a boolean', () => {
  const text = toYaml(validConfig()).replace('repos:\n', 'execution:\n  resilient_start: "yes"\nrepos:\n');
  withConfigFile(text, (file) =>
    assert.throws(() => loadServerConfigPartial(file, {}), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.path === 'execution.resilient_start')),
  );
});

test('a schema problem in one repository leaves it out too', () => {
  const tree = setIn(validConfig(), ['repos', 'web', 'email', 'imap_port'], 'not a port');
  const loaded = withConfigFile(toYaml(tree), (file) => loadServerConfigPartial(file, {}));
  assert.deepEqual(Object.keys(loaded.config.repos), ['api']);
  assert.equal(loaded.failed[0]!.id, 'web');
  assert.match(loaded.failed[0]!.problems[0]!.path, /^repos\.web\.email\.imap_port/);
});

test('a problem outside repos.<id> still refuses the whole file, with every problem', () => {
  const text = apiPasswordFromEnv().replace('repos:\n', 'dashboard:\n  auth_token: !env DASHBOARD_TOKEN\nrepos:\n');
  withConfigFile(text, (file) => {
    assert.throws(
      () => loadServerConfigPartial(file, {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p.path === 'dashboard.auth_token') &&
        err.problems.some((p) => p.path === 'repos.api.email.password'),
    );
  });
});

test('when every repository is invalid, the file is refused (nothing would run)', () => {
  const text = apiPasswordFromEnv().replace('password: password-of-web', 'password: !env PW_WEB');
  withConfigFile(text, (file) => assert.throws(() => loadServerConfigPartial(file, {}), ConfigError));
});

test('two repositories on one inbox: the second is left out, the first runs', () => {
  const tree = validConfig();
  (tree.repos as Record<string, unknown>).web2 = setIn(validRepo('web2'), ['email', 'username'], 'WEB');
  const loaded = withConfigFile(toYaml(tree), (file) => loadServerConfigPartial(file, {}));
  assert.deepEqual(Object.keys(loaded.config.repos).sort(), ['api', 'web']);
  assert.deepEqual(loaded.failed.map((f) => f.id), ['web2']);
  assert.match(loaded.failed[0]!.problems[0]!.message, /same inbox as repos\.web/);
});

test('a missing file is refused as without the flag', () => {
  assert.throws(() => loadServerConfigPartial('/nonexistent/airut.yaml', {}), (err: unknown) => err instanceof ConfigError && /does not exist/.test(err.message));
});
