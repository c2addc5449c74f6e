import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, hostIsListed, parseAllowlist, AllowlistError } from '../../src/proxy/allowlist.ts';

const AIRUT_STYLE = `
# comments and Airut's own layout
domains:
  - "*.github.com"
  - pypi.org
url_prefixes:
  - host: api.anthropic.com
    path: /v1/messages*
    methods: [POST]
  - host: statsig.anthropic.com
    path: ""
    methods: [post]
  - host: api.github.com
    path: /repos/org/repo*
  - host: api.github.com
    path: /graphql
    methods: [POST]
`;

test('Airut patterns: wildcard hosts need a subdomain, paths have no implicit prefix', () => {
  const list = parseAllowlist(AIRUT_STYLE);
  const allowed = (host: string, path: string, method = 'GET') => decide(list, { host, path, method }).allowed;
  assert.equal(allowed('api.github.com', '/anything', 'DELETE'), true); // domains: all paths and methods
  assert.equal(allowed('uploads.github.com', '/x'), true);
  assert.equal(allowed('github.com', '/'), false, '*.github.com does not match github.com');
  assert.equal(allowed('pypi.org', '/simple/'), true);
  assert.equal(allowed('evilpypi.org', '/'), false);
  assert.equal(allowed('api.anthropic.com', '/v1/messages', 'POST'), true);
  assert.equal(allowed('api.anthropic.com', '/v1/messages?beta=true'.split('?')[0]!, 'post'), true);
  assert.equal(allowed('api.anthropic.com', '/v1/files', 'POST'), false);
  assert.equal(allowed('api.anthropic.com', '/v1/messages', 'GET'), false);
  assert.equal(allowed('statsig.anthropic.com', '/any/path', 'POST'), true, 'empty path allows every path');
  assert.equal(allowed('API.ANTHROPIC.COM', '/v1/messages', 'POST'), true, 'hosts compare case-insensitively');
});

test('the decision says what blocked a request', () => {
  const list = parseAllowlist(AIRUT_STYLE);
  const d1 = decide(list, { host: 'api.anthropic.com', path: '/v1/messages', method: 'GET' });
  assert.equal(d1.blockedBy, 'method');
  const d2 = decide(list, { host: 'api.anthropic.com', path: '/v1/files', method: 'POST' });
  assert.equal(d2.blockedBy, 'path');
  const d3 = decide(list, { host: 'evil.example', path: '/', method: 'GET' });
  assert.equal(d3.blockedBy, 'host');
  const ok = decide(list, { host: 'api.github.com', path: '/graphql', method: 'POST' });
  assert.match(ok.rule, /^domains\[0\]/, 'domains are checked first');
  const graph = decide(parseAllowlist('url_prefixes: [{host: api.github.com, path: /graphql, methods: [POST]}]'), {
    host: 'api.github.com', path: '/graphql/', method: 'POST' });
  assert.equal(graph.allowed, false, '/graphql and /graphql/ differ');
});

test('paths are case-sensitive and * spans slashes', () => {
  const list = parseAllowlist('url_prefixes:\n  - host: h.test\n    path: /Repos/*\n');
  assert.equal(decide(list, { host: 'h.test', path: '/Repos/a/b/c', method: 'GET' }).allowed, true);
  assert.equal(decide(list, { host: 'h.test', path: '/repos/a', method: 'GET' }).allowed, false);
  assert.equal(decide(list, { host: 'h.test', path: '/Repos', method: 'GET' }).allowed, false);
});

test('regex characters in patterns are literal', () => {
  const list = parseAllowlist('domains: ["a.b.test"]\nurl_prefixes: [{host: x.test, path: "/a+b(c)"}]');
  assert.equal(decide(list, { host: 'aXb.test', path: '/', method: 'GET' }).allowed, false);
  assert.equal(decide(list, { host: 'x.test', path: '/a+b(c)', method: 'GET' }).allowed, true);
  assert.equal(decide(list, { host: 'x.test', path: '/aab(c)', method: 'GET' }).allowed, false);
});

test('empty or missing sections allow nothing', () => {
  for (const text of ['', 'domains: []', 'url_prefixes: []', '# nothing\n']) {
    assert.equal(decide(parseAllowlist(text), { host: 'a.test', path: '/', method: 'GET' }).allowed, false);
  }
});

test('broken files are refused with every problem named', () => {
  assert.throws(() => parseAllowlist('domains: [\n'), (e: unknown) => e instanceof AllowlistError && /not valid YAML/.test(e.message));
  assert.throws(() => parseAllowlist('- a\n- b\n'), /top level must be a mapping/);
  assert.throws(
    () => parseAllowlist('domain: [a.test]\nurl_prefixes:\n  - host: "bad host/"\n  - host: ok.test\n    path: relative\n  - host: m.test\n    methods: [GET, "P OST"]\n'),
    (e: unknown) => {
      const m = (e as Error).message;
      return /unknown key "domain"/.test(m) && /url_prefixes\[0\]\.host/.test(m) && /url_prefixes\[1\]\.path/.test(m) && /P OST/.test(m) && /network-allowlist\.yaml/.test(m);
    },
  );
});

test('hostIsListed covers domains and url_prefixes hosts, for the in-container DNS', () => {
  const list = parseAllowlist(AIRUT_STYLE);
  assert.equal(hostIsListed(list, 'api.github.com'), true);
  assert.equal(hostIsListed(list, 'api.anthropic.com.'), true);
  assert.equal(hostIsListed(list, 'example.com'), false);
});

test('a graphql block on a url_prefixes entry is parsed and handed to the decision', () => {
  const list = parseAllowlist(`
url_prefixes:
  - host: api.github.com
    path: /graphql
    methods: [POST]
    graphql:
      queries: ["*"]
      mutations: [createPullRequest, "update*"]
  - host: api.github.com
    path: /other
  - host: gql.test
    path: /graphql
    graphql: {}
`);
  const first = decide(list, { host: 'api.github.com', path: '/graphql', method: 'POST' });
  assert.deepEqual(first.graphql, { queries: ['*'], mutations: ['createPullRequest', 'update*'], subscriptions: [] });
  assert.equal(decide(list, { host: 'api.github.com', path: '/other', method: 'POST' }).graphql, undefined);
  assert.deepEqual(decide(list, { host: 'gql.test', path: '/graphql', method: 'GET' }).graphql, { queries: [], mutations: [], subscriptions: [] }, 'an empty block refuses every operation');
});

test('a broken graphql block is refused with the key to fix', () => {
  const problem = (graphql: string) => {
    try {
      parseAllowlist(`url_prefixes:\n  - host: api.github.com\n    path: /graphql\n    graphql: ${graphql}\n`);
    } catch (e) {
      assert.ok(e instanceof AllowlistError);
      return e.message;
    }
    assert.fail(`graphql: ${graphql} was accepted`);
  };
  assert.match(problem(''), /url_prefixes\[0\]\.graphql: must be a mapping.*remove the key/);
  assert.match(problem('[createIssue]'), /url_prefixes\[0\]\.graphql: must be a mapping/);
  assert.match(problem('{ mutation: [createIssue] }'), /url_prefixes\[0\]\.graphql: unknown key "mutation" \(queries, mutations, subscriptions\)/);
  assert.match(problem('{ queries: "*" }'), /url_prefixes\[0\]\.graphql\.queries: must be a list/);
  assert.match(problem('{ mutations: [createIssue, "delete Repo", 3] }'), /url_prefixes\[0\]\.graphql\.mutations\[1\]: "delete Repo" is not a field-name pattern.*mutations\[2\]: "3"/);
});
