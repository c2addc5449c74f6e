/** Stage 2: the conversation's files and row, the workspace, the acknowledgement, the attachments. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { conversationStage, gitIdentity } from '../../../src/runner/stages/conversation.ts';
import { repoInputsStage } from '../../../src/runner/stages/repo-inputs.ts';
import { buildMail } from '../../harness/mail-builder.ts';
import { fakeContext, taskRow } from './fake-context.ts';

test('the first task creates the conversation with its model, clones the workspace and is acknowledged once', async () => {
  const ctx = fakeContext({ task: taskRow({ modelHint: 'opus' }) });
  const state = await conversationStage(ctx, await repoInputsStage(ctx));
  assert.equal(state.model, 'opus');
  assert.equal(state.resumeSessionId, null);
  const context = await ctx.conversations.readContext('c0ffee00');
  assert.equal(context.model, 'opus');
  assert.equal(context.subject, 'Fix the build');
  assert.deepEqual(ctx.store.conversation, [{ model: 'opus', effort: null, subject: 'Fix the build', sender: 'alice@example.com' }]);
  assert.deepEqual(ctx.mirror.clones, [state.paths.workspace]);
  assert.match(fs.readFileSync(state.paths.gitconfig, 'utf8'), /api-bot@repo\.example/);
  assert.deepEqual(ctx.replies.map((r) => r.body), [{ kind: 'ack', dashboardUrl: 'https://airut.example/conversations/api/c0ffee00' }]);
  assert.equal(ctx.replies[0]!.finish, undefined, 'the acknowledgement does not finish the task');
  assert.equal(ctx.store.model, 'opus');
});

test('a re-run of the first task after a crash neither clones again nor sends a second acknowledgement', async () => {
  const ctx = fakeContext();
  const inputs = await repoInputsStage(ctx);
  await conversationStage(ctx, inputs);
  ctx.store.acked = true;
  const again = await conversationStage(ctx, inputs);
  assert.equal(ctx.mirror.clones.length, 1, 'the workspace is a checkout already');
  assert.equal(ctx.replies.length, 1, 'one acknowledgement');
  assert.equal(again.model, 'sonnet', 'the model fixed when the files were made');
});

test('a later task resumes the conversation: its model and session, no clone, no acknowledgement', async () => {
  const ctx = fakeContext({ isFirstTask: false, task: taskRow({ modelHint: 'haiku' }) });
  await ctx.conversations.create('c0ffee00', { repoId: 'api', model: 'opus', sessionId: 'sess-9' });
  const state = await conversationStage(ctx, await repoInputsStage(ctx));
  assert.equal(state.model, 'opus', 'the hint of a follow-up does not change the model');
  assert.equal(state.resumeSessionId, 'sess-9');
  assert.deepEqual(ctx.mirror.clones, []);
  assert.deepEqual(ctx.replies, []);
  assert.deepEqual(ctx.store.conversation, []);
});

test('an unknown model hint falls back to the repository default; no dashboard URL means none in the ack', async () => {
  const base = fakeContext();
  const ctx = fakeContext({ task: taskRow({ modelHint: 'gpt' }), settings: { ...base.settings, dashboardBaseUrl: null } });
  const state = await conversationStage(ctx, await repoInputsStage(ctx));
  assert.equal(state.model, 'sonnet');
  assert.deepEqual(ctx.replies[0]!.body, { kind: 'ack', dashboardUrl: null });
});

test("the mail's attachments are saved to inbox/ and named for the prompt", async () => {
  const ctx = fakeContext();
  ctx.store.raw = Buffer.from(
    buildMail({
      from: 'alice@example.com',
      to: 'api-bot@repo.example',
      subject: 'Fix the build',
      text: 'see the log',
      messageId: '<m1@example.com>',
      attachments: [{ filename: '../build.log', content: 'error: x' }],
    }),
  );
  const state = await conversationStage(ctx, await repoInputsStage(ctx));
  assert.deepEqual(state.attachments, ['build.log']);
  assert.equal(fs.readFileSync(path.join(state.paths.inbox, 'build.log'), 'utf8'), 'error: x');
});

test('a failed clone is explained to the sender', async () => {
  const ctx = fakeContext();
  ctx.mirror.cloneWorkspace = async () => {
    throw new Error('disk full');
  };
  await assert.rejects(conversationStage(ctx, await repoInputsStage(ctx)), { code: 'GIT_CLONE_FAILED', message: /could not clone the repository: disk full/ });
});

test('commits are made as the repository address, under its display name', () => {
  assert.deepEqual(gitIdentity('"Api Bot" <api-bot@repo.example>', 'api-bot@repo.example'), { name: 'Api Bot', email: 'api-bot@repo.example' });
  assert.deepEqual(gitIdentity('<api-bot@repo.example>', 'api-bot@repo.example'), { name: 'Airut', email: 'api-bot@repo.example' });
});

test("model and effort of a new conversation: the hint, else the server config's repos.<id>.model, else default_model; effort from the config or the task's preset", async () => {
  const base = fakeContext();
  const configured = (task = taskRow()) => fakeContext({ task, repo: { ...base.repo, model: 'claude-opus-4-1', effort: 'high' }, conversations: base.conversations });
  const cases = [
    { name: 'config model over default_model', task: taskRow(), model: 'claude-opus-4-1', effort: 'high' },
    { name: 'an allowed hint wins', task: taskRow({ modelHint: 'haiku' }), model: 'haiku', effort: 'high' },
    { name: "a schedule's presets win", task: taskRow({ modelHint: 'opus', effort: 'low' }), model: 'opus', effort: 'low' },
    { name: 'a stored effort that is no level is ignored', task: taskRow({ effort: 'extreme' }), model: 'claude-opus-4-1', effort: 'high' },
  ];
  for (const c of cases) {
    const ctx = configured(c.task);
    await fs.promises.rm(ctx.conversations.paths('c0ffee00').root, { recursive: true, force: true });
    const state = await conversationStage(ctx, await repoInputsStage(ctx));
    assert.equal(state.model, c.model, c.name);
    assert.equal(state.effort, c.effort, c.name);
    assert.equal(ctx.store.effort, c.effort, `${c.name}: recorded on the task`);
    assert.equal(ctx.store.conversation[0]!.effort, c.effort, `${c.name}: pinned in the conversation`);
  }
  // Without server config: the repository's default_model (sonnet here) and no --effort.
  const plain = fakeContext();
  const state = await conversationStage(plain, await repoInputsStage(plain));
  assert.equal(state.model, 'sonnet');
  assert.equal(state.effort, null);
});

test('a later task keeps the effort pinned in the conversation, even after the configuration changed', async () => {
  const base = fakeContext();
  const ctx = fakeContext({ isFirstTask: false, repo: { ...base.repo, model: 'haiku', effort: 'max' }, conversations: base.conversations });
  await ctx.conversations.create('c0ffee00', { repoId: 'api', model: 'opus', sessionId: 'sess-9' });
  ctx.store.pinnedEffort = 'low';
  const state = await conversationStage(ctx, await repoInputsStage(ctx));
  assert.equal(state.model, 'opus');
  assert.equal(state.effort, 'low');
  assert.equal(ctx.store.effort, 'low');
  ctx.store.pinnedEffort = null;
  assert.equal((await conversationStage(ctx, await repoInputsStage(ctx))).effort, null, 'a conversation pinned without effort stays without');
});
