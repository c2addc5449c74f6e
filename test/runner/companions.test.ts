/** Stage 1 with companion repositories (src/runner/companions.ts), on fakes of the mirrors and the store; the clones on real git. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoInputsStage } from '../../src/runner/stages/repo-inputs.ts';
import { cloneCompanions, type Companion } from '../../src/runner/companions.ts';
import { UserFacingError } from '../../src/runner/user-facing-error.ts';
import { GitMirror } from '../../src/git/index.ts';
import { FakeMirror, fakeContext, type FakeTaskContext } from './stages/fake-context.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { exitTempDir } from '../harness/temp-dirs.ts';
import type { TaskContext } from '../../src/runner/task-context.ts';

const MASKED = { value: 'real-docs-token', scopes: ['docs.example'], headers: ['Authorization'], allowForeignCredentials: false };

/** A primary `api` with companions docs (write) and wiki (read), each with its own allowlist and masked secret. */
function context(overrides: Partial<TaskContext> = {}): FakeTaskContext & { mirrors: Map<string, FakeMirror> } {
  const base = fakeContext();
  const mirrors = new Map<string, FakeMirror>();
  for (const [name, host] of [['docs', 'docs.example'], ['wiki', 'wiki.example']] as const) {
    const m = new FakeMirror();
    m.files.set('.airut/network-allowlist.yaml', `domains:\n  - ${host}\n`);
    mirrors.set(name, m);
  }
  const companionRepos = {
    docs: testRepoServerConfig('docs', { maskedSecrets: { DOCS_TOKEN: MASKED } }),
    wiki: testRepoServerConfig('wiki', { maskedSecrets: { WIKI_TOKEN: { ...MASKED, scopes: ['wiki.example'] } }, authorizedSenders: ['alice@example.com'] }),
  };
  const ctx = fakeContext({
    repo: { ...base.repo, companions: { docs: 'write', wiki: 'read' } },
    companionRepos,
    companionMirror: (r) => mirrors.get(r.repoId)!,
    ...overrides,
  });
  return Object.assign(ctx, { mirrors });
}

async function refusal(ctx: TaskContext): Promise<string> {
  const err = await repoInputsStage(ctx).then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof UserFacingError, String(err));
  assert.equal(err.code, 'REPOS_REFUSED');
  return err.userMessage;
}

test('a first task with companions: checked, recorded, mirrors updated, allowlists united, only a write companion lends its secrets', async () => {
  const ctx = context();
  ctx.store.requested = [{ name: 'docs' }, { name: 'wiki' }];
  const inputs = await repoInputsStage(ctx);
  assert.deepEqual(ctx.store.keptRepos.map((r) => `${r.name}:${r.access}:${r.primary}`), ['api:write:true', 'docs:write:false', 'wiki:read:false']);
  assert.equal(ctx.mirrors.get('docs')!.updates, 1);
  assert.equal(ctx.mirrors.get('wiki')!.updates, 1);
  assert.deepEqual([...(inputs.allowlist?.domains ?? [])].sort(), ['api.anthropic.com', 'docs.example', 'wiki.example']);
  assert.deepEqual(inputs.masks.map((m) => [m.name, m.scopes]), [['DOCS_TOKEN', ['docs.example']]], "docs' secret, scoped to its own host; none of wiki's (read)");
  assert.ok(inputs.containerEnv.DOCS_TOKEN && inputs.containerEnv.DOCS_TOKEN !== 'real-docs-token', 'a surrogate, never the value');
  assert.equal(inputs.containerEnv.WIKI_TOKEN, undefined);
});

test("the primary's credential wins a name a write companion also uses", async () => {
  const base = context();
  const ctx = context({ repo: { ...base.repo, maskedSecrets: { DOCS_TOKEN: { ...MASKED, value: 'primary-value', scopes: ['api.example'] } } } });
  ctx.store.requested = [{ name: 'docs' }];
  const inputs = await repoInputsStage(ctx);
  assert.deepEqual(inputs.masks.map((m) => [m.name, m.scopes]), [['DOCS_TOKEN', ['api.example']]]);
});

test("a mail's Repos: line is the request when none was recorded with the task; an API task is not held to the sender's authorization", async () => {
  const mail = context({ mailRepos: [{ name: 'docs' }] });
  await repoInputsStage(mail);
  assert.deepEqual(mail.store.keptRepos.map((r) => r.name), ['api', 'docs']);
  const stranger = { ...fakeContext().task, sender: 'bob@example.com' };
  assert.match(await refusal(context({ task: stranger, mailRepos: [{ name: 'wiki' }] })), /you are not authorized for repository wiki/);
  const viaApi = context({ task: { ...stranger, sender: 'api+team@airut.invalid' } });
  viaApi.store.viaApi = true;
  viaApi.store.requested = [{ name: 'wiki' }];
  await repoInputsStage(viaApi);
  assert.deepEqual(viaApi.store.keptRepos.map((r) => r.name), ['api', 'wiki']);
});

test('a refused request stops the task before any companion mirror is touched, and records no set', async () => {
  const other = context({ task: { ...fakeContext().task, sender: 'bob@example.com' } });
  other.store.requested = [{ name: 'wiki' }];
  assert.match(await refusal(other), /you are not authorized for repository wiki/);
  assert.equal(other.mirrors.get('wiki')!.updates, 0);
  assert.deepEqual(other.store.keptRepos, []);
});

test('a malformed Repos: line refuses the first task with the reason and an example', async () => {
  const ctx = context({ reposLineProblem: 'the Repos: line names docs twice' });
  assert.match(await refusal(ctx), /names docs twice\. Write it as, for example, "Repos: backend, docs:read"/);
});

test("a follow-up keeps the conversation's set, whatever it asked for", async () => {
  const ctx = context({ isFirstTask: false });
  ctx.store.keptRepos = [
    { name: 'api', access: 'write', branch: null, primary: true },
    { name: 'wiki', access: 'read', branch: null, primary: false },
  ];
  ctx.store.requested = [{ name: 'docs' }];
  const inputs = await repoInputsStage(ctx);
  assert.deepEqual(inputs.companions.companions.map((c) => c.repo.name), ['wiki']);
  assert.equal(ctx.mirrors.get('docs')!.updates, 0);
});

test('on the Kubernetes backend a task with companions is refused clearly', async () => {
  const base = context();
  const ctx = context({ settings: { ...base.settings, execution: { ...base.settings.execution, backend: 'kubernetes' } } });
  ctx.store.requested = [{ name: 'docs' }];
  assert.match(await refusal(ctx), /Kubernetes, where companion repositories cannot be mounted/);
  assert.deepEqual(ctx.store.keptRepos, [], 'no set recorded for a refused task');
});

test('cloneCompanions clones each from its own mirror (a branch when asked) and mounts read companions read-only', async () => {
  const dir = exitTempDir('airut-companions-');
  const upstream = path.join(dir, 'upstream');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: upstream, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } });
  fs.mkdirSync(upstream);
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(upstream, 'README'), 'main\n');
  git('add', '.');
  git('commit', '-qm', 'one');
  git('checkout', '-qb', 'v2');
  fs.writeFileSync(path.join(upstream, 'README'), 'v2\n');
  git('commit', '-qam', 'two');
  git('checkout', '-q', 'main');
  const mirror = new GitMirror(path.join(dir, 'storage'), upstream);
  await mirror.update();
  const companions: Companion[] = [
    { repo: { name: 'docs', access: 'read', branch: null, primary: false }, config: testRepoServerConfig('docs'), mirror },
    { repo: { name: 'lib', access: 'write', branch: 'v2', primary: false }, config: testRepoServerConfig('lib'), mirror },
  ];
  const root = path.join(dir, 'conversation');
  const mounts = await cloneCompanions(companions, root);
  assert.deepEqual(mounts, [
    { source: path.join(root, 'repos', 'docs'), target: '/repos/docs', readOnly: true },
    { source: path.join(root, 'repos', 'lib'), target: '/repos/lib', readOnly: false },
  ]);
  assert.equal(fs.readFileSync(path.join(root, 'repos', 'docs', 'README'), 'utf8'), 'main\n');
  assert.equal(fs.readFileSync(path.join(root, 'repos', 'lib', 'README'), 'utf8'), 'v2\n');
  // A follow-up keeps the clone, changes and all.
  fs.writeFileSync(path.join(root, 'repos', 'lib', 'NOTE'), 'kept\n');
  await cloneCompanions(companions, root);
  assert.equal(fs.readFileSync(path.join(root, 'repos', 'lib', 'NOTE'), 'utf8'), 'kept\n');
  // A branch that does not exist is a clear failure.
  const missing: Companion[] = [{ ...companions[1]!, repo: { ...companions[1]!.repo, name: 'gone', branch: 'nope' } }];
  await assert.rejects(cloneCompanions(missing, root), /could not clone the companion repository gone \(branch nope\)/);
});

test('a follow-up of a single-repository conversation that names repositories is refused, not run on its own repository', async () => {
  const ctx = context({ isFirstTask: false });
  ctx.store.requested = [{ name: 'docs' }];
  assert.match(await refusal(ctx), /send the Repos: line in a new message \(not a reply\)/);
  const plain = context({ isFirstTask: false });
  assert.deepEqual((await repoInputsStage(plain)).companions.repos, [], 'a follow-up naming nothing runs as before');
});
