import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recheckCompanions, resolveCompanions } from '../../src/runner/companion-access.ts';

const primary = { repoId: 'app', companions: { backend: 'write', docs: 'read' } } as const;
const configured = { backend: { authorizedSenders: ['*@example.com'] }, docs: { authorizedSenders: ['alice@example.com'] } };

test('listed companions with the access the primary grants, primary first', () => {
  const v = resolveCompanions(primary, configured, [{ name: 'backend' }, { name: 'docs', branch: 'v2' }], 'alice@example.com');
  assert.deepEqual(v, {
    ok: true,
    repos: [
      { name: 'app', access: 'write', branch: null, primary: true },
      { name: 'backend', access: 'write', branch: null, primary: false },
      { name: 'docs', access: 'read', branch: 'v2', primary: false },
    ],
  });
  const lowered = resolveCompanions(primary, configured, [{ name: 'backend', access: 'read' }], 'alice@example.com');
  assert.equal(lowered.ok && lowered.repos[1]?.access, 'read');
});

const refusals: Array<[string, Parameters<typeof resolveCompanions>[2], string | null, RegExp]> = [
  ['a repository the primary does not list', [{ name: 'infra' }], 'alice@example.com', /"infra" is not a companion of app; app allows: backend \(write\), docs \(read\)/],
  ['an unknown name that looks like a path', [{ name: '../x' }], 'alice@example.com', /"\.\.\/x" is not a companion of app/],
  ['a prototype key', [{ name: '__proto__' }], 'alice@example.com', /is not a companion of app/],
  ['write to a read companion', [{ name: 'docs', access: 'write' }], 'alice@example.com', /docs may only be read by tasks of app/],
  ['a sender the companion does not authorize', [{ name: 'docs' }], 'bob@example.com', /you are not authorized for repository docs/],
  ['the primary itself', [{ name: 'app' }], 'alice@example.com', /this task's own repository/],
  ['a name twice', [{ name: 'backend' }, { name: 'backend' }], 'alice@example.com', /named twice/],
];
for (const [what, requested, sender, problem] of refusals) {
  test(`refused: ${what}`, () => {
    const v = resolveCompanions(primary, configured, requested, sender);
    assert.equal(v.ok, false);
    assert.match(v.ok ? '' : v.problem, problem);
  });
}

test('a companion listed by the primary but no longer configured is refused', () => {
  const v = resolveCompanions(primary, { docs: configured.docs }, [{ name: 'backend' }], 'alice@example.com');
  assert.match(v.ok ? '' : v.problem, /"backend" is not a companion of app/);
});

test('a primary without companions says it allows none', () => {
  const v = resolveCompanions({ repoId: 'app', companions: {} }, configured, [{ name: 'docs' }], 'alice@example.com');
  assert.match(v.ok ? '' : v.problem, /app allows no companion repositories/);
});

test('a task without a sender (an API token, scoped by the API) is not checked against authorized_senders', () => {
  assert.equal(resolveCompanions(primary, configured, [{ name: 'docs' }], null).ok, true);
});

test('a follow-up keeps its set unless the configuration took a companion away or lowered it', () => {
  const kept = [
    { name: 'app', access: 'write', branch: null, primary: true },
    { name: 'backend', access: 'write', branch: null, primary: false },
  ] as const;
  assert.equal(recheckCompanions(primary, configured, kept).ok, true);
  assert.match(JSON.stringify(recheckCompanions({ repoId: 'app', companions: {} }, configured, kept)), /no longer a companion of app/);
  assert.match(JSON.stringify(recheckCompanions({ repoId: 'app', companions: { backend: 'read' } }, configured, kept)), /now grants read only/);
});

test('a reply by mail from a sender the companion does not admit is refused, even though the conversation has it', () => {
  const kept = [
    { name: 'app', access: 'write' as const, branch: null, primary: true },
    { name: 'docs', access: 'read' as const, branch: null, primary: false },
  ];
  assert.equal(recheckCompanions(primary, configured, kept, 'alice@example.com').ok, true);
  assert.match(JSON.stringify(recheckCompanions(primary, configured, kept, 'bob@example.com')), /uses repository docs, and you are not authorized for it/);
  // An API task (no sender to check) was authorized by its token's scope when it was submitted.
  assert.equal(recheckCompanions(primary, configured, kept, null).ok, true);
});
