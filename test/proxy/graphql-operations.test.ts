import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkGraphqlRequest, GRAPHQL_MAX_BODY_BYTES } from '../../src/proxy/graphql-operations.ts';
import type { GraphqlRule } from '../../src/proxy/graphql-rule.ts';

const GITHUB: GraphqlRule = { queries: ['*'], mutations: ['createPullRequest', 'update*'], subscriptions: [] };
const NAMED_QUERIES: GraphqlRule = { queries: ['viewer', 'repository'], mutations: [], subscriptions: [] };

const body = (v: unknown) => Buffer.from(JSON.stringify(v));
const check = (payload: unknown, rule: GraphqlRule = GITHUB) => checkGraphqlRequest({ search: '', body: body(payload) }, rule);
const detail = (payload: unknown, rule?: GraphqlRule) => {
  const v = check(payload, rule);
  assert.equal(v.allowed, false, `expected a refusal of ${JSON.stringify(payload)}`);
  assert.ok(v.reason && v.reason.length > 10, 'a refusal says why');
  return v.detail;
};

test('listed queries and mutations are allowed, with a type/field tag', () => {
  assert.deepEqual(check({ query: '{ viewer { login } }' }), { allowed: true, tag: 'query/viewer' });
  assert.deepEqual(check({ query: 'query Q { repository(owner: "o", name: "r") { id } viewer { login } }' }), { allowed: true, tag: 'query/repository' });
  assert.equal(check({ query: 'mutation M($i: CreatePullRequestInput!) { createPullRequest(input: $i) { pullRequest { url } } }', variables: { i: {} } }).allowed, true);
  assert.equal(check({ query: 'mutation { updatePullRequest(input: {}) { clientMutationId } }', operationName: null }).allowed, true, 'patterns match');
});

test('unlisted fields and operation types are refused (default-deny)', () => {
  assert.equal(detail({ query: 'mutation { deleteRepository(input: {}) { clientMutationId } }' }), 'deleteRepository');
  assert.equal(detail({ query: 'mutation { createPullRequest(input: {}) { clientMutationId } deleteRef(input: {}) { clientMutationId } }' }), 'deleteRef', 'one bad field among good ones');
  assert.equal(detail({ query: 'subscription { issueUpdated { id } }' }), 'subscription:<blocked>');
  assert.equal(detail({ query: 'mutation { createPullRequest(input: {}) { clientMutationId } }' }, NAMED_QUERIES), 'mutation:<blocked>');
  assert.equal(detail({ query: '{ search(query: "x", type: REPOSITORY) { repositoryCount } }' }, NAMED_QUERIES), 'search');
  assert.equal(detail({ query: 'mutation { CreatePullRequest(input: {}) { clientMutationId } }' }), 'CreatePullRequest', 'names are case-sensitive');
});

test('aliases are judged by the real field name', () => {
  assert.equal(detail({ query: 'mutation { createPullRequest: deleteRepository(input: {}) { clientMutationId } }' }), 'deleteRepository');
  assert.equal(detail({ query: 'mutation { x: deleteRepository(input: {}) { clientMutationId } }' }), 'deleteRepository');
});

test('fields reached through fragment spreads and inline fragments count', () => {
  assert.equal(detail({ query: 'mutation { ...F } fragment F on Mutation { deleteRepository(input: {}) { clientMutationId } }' }), 'deleteRepository');
  assert.equal(detail({ query: 'mutation { ...A } fragment A on Mutation { ...B } fragment B on Mutation { ... on Mutation { deleteRepository(input: {}) { clientMutationId } } }' }), 'deleteRepository', 'nested spreads');
  assert.equal(detail({ query: 'mutation { ... on Mutation { deleteRepository(input: {}) { clientMutationId } } }' }), 'deleteRepository');
  assert.equal(detail({ query: 'mutation { ... { ... @include(if: true) { deleteRepository(input: {}) { clientMutationId } } } }' }), 'deleteRepository');
  assert.equal(detail({ query: 'mutation { ...Missing }' }), '<fragment-spread>', 'an undefined fragment');
  assert.equal(detail({ query: 'mutation { ...F } fragment F on Mutation { createPullRequest(input: {}) { clientMutationId } } fragment F on Mutation { deleteRepository(input: {}) { clientMutationId } }' }), '<unparseable>', 'a fragment defined twice');
  // A cycle adds no name and does not hang the check.
  assert.equal(check({ query: 'query { ...A } fragment A on Query { viewer { login } ...B } fragment B on Query { ...A }' }).allowed, true);
  // A spread below the top level selects sub-fields, which are not operations.
  assert.equal(check({ query: 'mutation { createPullRequest(input: {}) { ...P } } fragment P on CreatePullRequestPayload { clientMutationId }' }).allowed, true);
  assert.equal(check({ query: 'query { ...V } fragment V on Query { viewer { login } }' }).allowed, true, 'a harmless spread is resolved, not refused');
});

test('__typename and introspection fields need a pattern like any other field', () => {
  assert.equal(detail({ query: 'mutation { __typename ...F } fragment F on Mutation { deleteRepository(input: {}) { clientMutationId } }' }), '__typename');
  assert.equal(detail({ query: 'mutation { __typename }' }), '__typename', 'not listed in mutations');
  assert.equal(detail({ query: '{ __schema { types { name } } }' }, NAMED_QUERIES), '__schema');
  assert.equal(detail({ query: '{ __typename }' }, NAMED_QUERIES), '__typename');
  assert.equal(check({ query: '{ __schema { types { name } } __type(name: "X") { name } __typename }' }).allowed, true, '"*" allows introspection, as in Airut');
  assert.equal(check({ query: '{ __typename }' }, { ...NAMED_QUERIES, queries: ['viewer', '__typename'] }).allowed, true);
});

test('every operation in a document is checked, whatever operationName picks', () => {
  const two = 'query Harmless { viewer { login } } mutation Evil { deleteRepository(input: {}) { clientMutationId } }';
  assert.equal(detail({ query: two, operationName: 'Harmless' }), 'deleteRepository');
  assert.equal(detail({ query: two }), '<operation-name-invalid>', 'several operations need operationName');
  assert.equal(detail({ query: 'query A { viewer { login } } query B { viewer { id } }', operationName: 'C' }), '<operation-name-invalid>');
  assert.equal(detail({ query: '{ viewer { login } }', operationName: 7 }), '<operation-name-invalid>');
  assert.equal(check({ query: 'query A { viewer { login } } query B { repository(owner: "o", name: "r") { id } }', operationName: 'B' }).allowed, true);
});

test('a batch is allowed only if every element is', () => {
  assert.equal(checkGraphqlRequest({ search: '', body: body([{ query: '{ viewer { login } }' }, { query: 'mutation { updateRef(input: {}) { clientMutationId } }' }]) }, GITHUB).allowed, true);
  assert.equal(detail([{ query: '{ viewer { login } }' }, { query: 'mutation { deleteRepository(input: {}) { clientMutationId } }' }]), 'deleteRepository');
  assert.equal(detail([]), '<batched>');
  assert.equal(detail([{ query: '{ viewer { login } }' }, 'not an object']), '<unparseable>');
});

test('persisted queries without a query text are refused', () => {
  assert.equal(detail({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }), '<persisted-query>');
  assert.equal(detail({ id: 'q1', query: '{ viewer { login } }' }), '<persisted-query>', 'a stored document id beside a harmless text');
  assert.equal(detail({ documentId: 'd1' }), '<persisted-query>');
  // With the text present, the text is what is checked (the server verifies the hash against it).
  assert.equal(check({ query: '{ viewer { login } }', extensions: { persistedQuery: { version: 1, sha256Hash: 'ab' } } }).allowed, true);
});

test('GET ?query= is checked, and a request with both a URL query and a body is checked in both', () => {
  const get = (search: string, b = '') => checkGraphqlRequest({ search, body: Buffer.from(b) }, GITHUB);
  assert.deepEqual(get(new URLSearchParams({ query: '{ viewer { login } }' }).toString()), { allowed: true, tag: 'query/viewer' });
  assert.equal(get(new URLSearchParams({ query: 'mutation { deleteRepository(input: {}) { clientMutationId } }' }).toString()).detail, 'deleteRepository');
  assert.equal(get(new URLSearchParams({ extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: 'ab' } }) }).toString()).detail, '<persisted-query>');
  assert.equal(get('extensions=%7Bnot-json').detail, '<unparseable>');
  assert.equal(get('query=%7Bviewer%7Blogin%7D%7D&query=mutation%7BdeleteRepository%7D').detail, '<unparseable>', 'a repeated parameter');
  assert.equal(get(new URLSearchParams({ query: '{ viewer { login } }' }).toString(), JSON.stringify({ query: 'mutation { deleteRepository(input: {}) { clientMutationId } }' })).detail, 'deleteRepository');
  assert.equal(get('').detail, '<unparseable>', 'no operation at all');
  assert.equal(get('page=2').detail, '<unparseable>', 'unrelated parameters are no operation');
});

test('bodies that cannot be read are refused: too large, not JSON, not UTF-8, compressed, not GraphQL', () => {
  const big = Buffer.from(JSON.stringify({ query: `{ viewer { login } } # ${'x'.repeat(GRAPHQL_MAX_BODY_BYTES)}` }));
  assert.equal(checkGraphqlRequest({ search: '', body: big }, GITHUB).detail, '<too-large>');
  assert.equal(checkGraphqlRequest({ search: '', body: Buffer.from('{"query": "{ viewer { login } }"') }, GITHUB).detail, '<unparseable>');
  assert.equal(checkGraphqlRequest({ search: '', body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]) }, GITHUB).detail, '<unparseable>');
  assert.equal(checkGraphqlRequest({ search: '', body: body({ query: '{ viewer { login } }' }), contentEncoding: 'gzip' }, GITHUB).detail, '<unparseable>');
  assert.equal(checkGraphqlRequest({ search: '', body: body({ query: '{ viewer { login } }' }), contentEncoding: 'identity' }, GITHUB).allowed, true);
  assert.equal(checkGraphqlRequest({ search: '', body: Buffer.from('query { viewer { login } }') }, GITHUB).detail, '<unparseable>', 'application/graphql bodies are not read');
  assert.equal(detail({ query: 'mutation { deleteRepository(input: {}) { clientMutationId }' }), '<unparseable>', 'invalid GraphQL');
  assert.equal(checkGraphqlRequest({ search: '', body: Buffer.from('{"query": "{ viewer { login } }", "query": "mutation { deleteRepository }"}') }, GITHUB).detail, '<unparseable>', 'a key twice');
  assert.equal(detail({ query: 42 }), '<unparseable>');
  assert.equal(detail({}), '<unparseable>');
  assert.equal(detail('{ viewer { login } }'), '<unparseable>', 'a JSON string, not an object');
  assert.equal(detail({ query: 'fragment F on Query { viewer { login } }' }), '<unparseable>', 'no operation');
  assert.equal(detail({ query: 'type Query { x: Int } { viewer { login } }' }), '<unparseable>', 'type-system definitions');
  assert.equal(detail({ query: `{ ${'viewer '.repeat(120_000)} }` }), '<unparseable>', 'past the token limit');
  assert.equal(detail({ query: `{ ${'a { '.repeat(20_000)}b${' }'.repeat(20_000)} }` }), '<unparseable>', 'nested deep enough to exhaust the parser');
});
