import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig, validRepo, type Tree } from './fixtures/configs.ts';

function repos(tree: Tree): Record<string, Tree> {
  return tree.repos as Record<string, Tree>;
}

test('at least one repository is required', () => {
  for (const text of ['repos: {}\n', 'repos:\n', 'execution:\n  max_concurrent: 2\n']) {
    const problems = problemsOf(text);
    assert.equal(messageAt(problems, 'repos'), 'must define at least one repository');
  }
});

test('two repos may not read the same inbox, even when the host or username differ in case', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'web', 'email', 'imap_server'], 'MAIL.Example.com');
  setIn(tree, ['repos', 'web', 'email', 'username'], 'API');
  const problems = problemsOf(toYaml(tree));
  const message = messageAt(problems, 'repos.web.email');
  assert.match(message, /same inbox as repos\.api/);
  assert.equal(problems.length, 1);
});

test('the same username on different IMAP servers is two inboxes', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'web', 'email', 'imap_server'], 'imap.other.example');
  setIn(tree, ['repos', 'web', 'email', 'username'], 'api');
  assert.doesNotThrow(() => parse(toYaml(tree)));
});

test('two repos may not share a storage_dir, however it is spelt', () => {
  const home = homedir();
  for (const [a, b] of [
    ['~/x', `${home}/x/`],
    ['~/x', `${home}/y/../x`],
    [`${home}/x/`, `${home}/./x`],
  ]) {
    const tree = validConfig();
    setIn(tree, ['repos', 'api', 'storage_dir'], a);
    setIn(tree, ['repos', 'web', 'storage_dir'], b);
    const problems = problemsOf(toYaml(tree));
    assert.equal(
      messageAt(problems, 'repos.web.storage_dir'),
      `is the same directory as repos.api.storage_dir (${home}/x); each repository needs a directory of its own`,
    );
  }
});

test('one repo storage_dir may not lie inside another', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'api', 'storage_dir'], '/srv/airut');
  setIn(tree, ['repos', 'web', 'storage_dir'], '/srv/airut/web');
  assert.match(messageAt(problemsOf(toYaml(tree)), 'repos.web.storage_dir'), /lies inside repos\.api\.storage_dir/);
});

test('repository ids must be safe for paths, container names and labels', () => {
  for (const id of ['My-Repo', '-repo', 'repo.name', 'a'.repeat(41), 'with space', 'ünïcode']) {
    const tree: Tree = { repos: { [id]: validRepo('api') } };
    const problems = problemsOf(toYaml(tree));
    const path = problems.find((p) => p.message.startsWith('repository id'))?.path;
    assert.ok(path?.startsWith('repos'), `no repository id problem for ${id}`);
    assert.match(problems.find((p) => p.path === path)!.message, /lowercase letters, digits, - and _/);
  }
  for (const id of ['a', 'repo_1', '9lives', 'a'.repeat(40), 'my-repo']) {
    assert.doesNotThrow(() => parse(toYaml({ repos: { [id]: validRepo('api') } })), id);
  }
});

test('authorized_senders: addresses or *@domain only', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'api', 'authorized_senders'], ['*', '*.example.com', '*@*.example.com', 'not-an-address', 'a*@example.com', 'ok@example.com', '*@example.org']);
  const problems = problemsOf(toYaml(tree));
  assert.match(messageAt(problems, 'repos.api.authorized_senders[0]'), /anyone/);
  assert.match(messageAt(problems, 'repos.api.authorized_senders[1]'), /subdomain wildcards are not supported/);
  assert.match(messageAt(problems, 'repos.api.authorized_senders[2]'), /subdomain wildcards are not supported/);
  assert.match(messageAt(problems, 'repos.api.authorized_senders[3]'), /not an email address/);
  assert.match(messageAt(problems, 'repos.api.authorized_senders[4]'), /whole local part/);
  assert.equal(problems.length, 5);
});

test('from must hold exactly one address; its bare address is derived', () => {
  for (const bad of ['Bot', 'a@example.com, b@example.com', 'Bot <a@example.com> <b@example.com>', 'bot@ <a@example.com>', '<>']) {
    const tree = validConfig();
    setIn(tree, ['repos', 'api', 'email', 'from'], bad);
    assert.match(messageAt(problemsOf(toYaml(tree)), 'repos.api.email.from'), /exactly one email address/, bad);
  }
  for (const [from, address] of [
    ['Airut <Airut@Example.com>', 'airut@example.com'],
    ['"Bot, the builder" <bot@example.com>', 'bot@example.com'],
    ['plain@example.com', 'plain@example.com'],
  ]) {
    const tree = validConfig();
    setIn(tree, ['repos', 'api', 'email', 'from'], from);
    assert.equal(parse(toYaml(tree)).repos.api!.email.fromAddress, address);
  }
});

test('trusted_authserv_id must be one word, or empty (the Exchange Online mode)', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'api', 'trusted_authserv_id'], 'mail example com');
  assert.match(messageAt(problemsOf(toYaml(tree)), 'repos.api.trusted_authserv_id'), /single word/);
  setIn(tree, ['repos', 'api', 'trusted_authserv_id'], '');
  assert.equal(parse(toYaml(tree)).repos.api!.trustedAuthservId, '');
});

test('secret names must be environment variable names; a name in two pools is not an error (Airut precedence)', () => {
  const tree = validConfig();
  const api = repos(tree).api!;
  api.secrets = { gh_token: 'v1', GH_TOKEN: 'v2', '1BAD': 'v3' };
  api.masked_secrets = { GH_TOKEN: { value: 'v4', scopes: ['api.github.com'], headers: ['Authorization'] } };
  api.signing_credentials = {
    aws: { type: 'aws-sigv4', access_key_id: { name: 'AWS_ACCESS_KEY_ID', value: 'v5' }, secret_access_key: { name: 'aws-key', value: 'v6' }, scopes: ['*.amazonaws.com'] },
  };
  const problems = problemsOf(toYaml(tree));
  assert.match(messageAt(problems, 'repos.api.secrets.gh_token'), /environment variable name/);
  assert.match(messageAt(problems, 'repos.api.secrets.1BAD'), /environment variable name/);
  assert.match(messageAt(problems, 'repos.api.signing_credentials.aws'), /environment variable name/);
  assert.match(messageAt(problems, 'repos.api.signing_credentials.aws.secret_access_key.name'), /environment variable name/);
  assert.equal(problems.length, 4);
  assert.ok(!problems.some((p) => p.path === 'repos.api.masked_secrets.GH_TOKEN'));
});

test('the same secret name in two repos is fine: each repo has its own pool', () => {
  const tree = validConfig();
  repos(tree).api!.secrets = { GH_TOKEN: 'one' };
  repos(tree).web!.secrets = { GH_TOKEN: 'two' };
  const cfg = parse(toYaml(tree));
  assert.equal(cfg.repos.api!.secrets.GH_TOKEN, 'one');
  assert.equal(cfg.repos.web!.secrets.GH_TOKEN, 'two');
});

test('host names carry no scheme or port', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'api', 'email', 'imap_server'], 'mail.example.com:993');
  setIn(tree, ['repos', 'api', 'email', 'smtp_server'], 'smtp://mail.example.com');
  const problems = problemsOf(toYaml(tree));
  assert.match(messageAt(problems, 'repos.api.email.imap_server'), /without scheme, port or path \(the port goes in imap_port\)/);
  assert.match(messageAt(problems, 'repos.api.email.smtp_server'), /the port goes in smtp_port/);
});

test('dashboard.base_url: a bare host means https, other schemes are refused', () => {
  const tree = validConfig();
  setIn(tree, ['dashboard', 'base_url'], 'dashboard.example.com/');
  assert.equal(parse(toYaml(tree)).global.dashboard.baseUrl, 'https://dashboard.example.com');
  setIn(tree, ['dashboard', 'base_url'], 'http://10.0.0.5:5200/airut/');
  assert.equal(parse(toYaml(tree)).global.dashboard.baseUrl, 'http://10.0.0.5:5200/airut');
  setIn(tree, ['dashboard', 'base_url'], 'ftp://dashboard.example.com');
  assert.match(messageAt(problemsOf(toYaml(tree)), 'dashboard.base_url'), /http\(s\) URL/);
});

test('claude.allowed_models entries must fit in an email sub-address', () => {
  const tree = validConfig();
  setIn(tree, ['claude', 'allowed_models'], ['claude-opus-4-1', 'claude opus']);
  assert.match(messageAt(problemsOf(toYaml(tree)), 'claude.allowed_models[1]'), /sub-address/);
});

test('a dashboard auth_token shorter than 32 characters is refused, with how to make one, without quoting it', () => {
  for (const token of ['q9Z', 'short-token-0123456789', 'Z'.repeat(31)]) {
    const tree = validConfig();
    setIn(tree, ['dashboard', 'auth_token'], token);
    const problems = problemsOf(toYaml(tree));
    const message = messageAt(problems, 'dashboard.auth_token');
    assert.match(message, new RegExp(`is ${token.length} characters long; it must have at least 32`));
    assert.match(message, /openssl rand -hex 32/);
    assert.ok(!message.includes(token), 'the message does not repeat the token');
  }
  for (const token of ['a'.repeat(32), '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef']) {
    const tree = validConfig();
    setIn(tree, ['dashboard', 'auth_token'], token);
    assert.equal(parse(toYaml(tree)).global.dashboard.authToken, token);
  }
});

test('dashboard session lifetimes have defaults and bounds', () => {
  const cfg = parse(toYaml(validConfig()));
  assert.equal(cfg.global.dashboard.sessionIdleSeconds, 12 * 3600);
  assert.equal(cfg.global.dashboard.sessionLifetimeSeconds, 7 * 86_400);
  const tree = validConfig();
  setIn(tree, ['dashboard', 'session_idle_timeout'], 30);
  assert.ok(messageAt(problemsOf(toYaml(tree)), 'dashboard.session_idle_timeout'));
});

test('container_path: a directory inside the repository, as Airut names it; nothing that leaves it', () => {
  const tree = validConfig();
  setIn(tree, ['repos', 'api', 'container_path'], '.devcontainer/');
  assert.equal(parse(toYaml(tree)).repos.api!.containerPath, '.devcontainer');
  assert.equal(parse(toYaml(validConfig())).repos.api!.containerPath, '.airut/container');
  for (const bad of ['../other', 'a/../../b', './x', '/etc']) {
    setIn(tree, ['repos', 'api', 'container_path'], bad);
    assert.match(messageAt(problemsOf(toYaml(tree)), 'repos.api.container_path'), /inside the repository|must match|pattern|format/, bad);
  }
});

test('dashboard.hosts: host names to known repositories; a repository the configuration lacks is named', () => {
  const tree = validConfig();
  setIn(tree, ['dashboard', 'base_url'], 'https://dash.example.com');
  setIn(tree, ['dashboard', 'hosts'], { 'Team-A.example.com': ['api'], 'team-b.example.com': ['web', 'nope'] });
  const problems = problemsOf(toYaml(tree));
  assert.match(messageAt(problems, 'dashboard.hosts["team-b.example.com"][1]'), /names no repository of this configuration \(it has: api, web\)/);
  assert.equal(problems.length, 1);

  setIn(tree, ['dashboard', 'hosts'], { 'Team-A.example.com': ['api'], 'team-b.example.com': ['web'] });
  assert.deepEqual(parse(toYaml(tree)).global.dashboard.hosts, { 'team-a.example.com': ['api'], 'team-b.example.com': ['web'] });

  for (const host of ['localhost', 'dash.example.com', 'team.example.com:8080', 'https://x']) {
    const t = validConfig();
    setIn(t, ['dashboard', 'base_url'], 'https://dash.example.com');
    setIn(t, ['dashboard', 'hosts'], { [host]: ['api'] });
    assert.equal(problemsOf(toYaml(t)).length, 1, host);
  }
  assert.equal(parse(toYaml(validConfig())).global.dashboard.hosts, null);
});
