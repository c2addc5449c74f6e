/** The task's stages run in order, each reporting its start before it runs (fakes of every collaborator). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStages } from '../../src/runner/run-task.ts';
import { TASK_STAGES, type TaskStage } from '../../src/protocol/runner.ts';
import { fakeContext } from './stages/fake-context.ts';

test('repo-inputs → conversation → image → agent → outcome, each entered before its work', async () => {
  const ctx = fakeContext();
  const entered: Array<{ stage: TaskStage; updates: number; images: number; runs: number; replies: number }> = [];
  const result = await runStages(ctx, (stage) =>
    entered.push({ stage, updates: ctx.mirror.updates, images: ctx.backend.images.length, runs: ctx.backend.runs.length, replies: ctx.replies.length }),
  );
  assert.deepEqual(result, { taskId: 7, status: 'completed' });
  // `trigger` is entered by scheduled runs only.
  assert.deepEqual(entered.map((e) => e.stage), TASK_STAGES.filter((s) => s !== 'trigger'));
  assert.deepEqual(entered[0], { stage: 'repo-inputs', updates: 0, images: 0, runs: 0, replies: 0 });
  assert.deepEqual(entered[2], { stage: 'image', updates: 1, images: 0, runs: 0, replies: 1 });
  assert.deepEqual(entered[3], { stage: 'agent', updates: 1, images: 1, runs: 0, replies: 1 });
  assert.deepEqual(entered[4], { stage: 'outcome', updates: 1, images: 1, runs: 1, replies: 1 });
  assert.deepEqual(ctx.replies.map((r) => r.body.kind), ['ack', 'reply']);
});

test('a stage that fails ends the sequence: the later stages are not entered', async () => {
  const ctx = fakeContext();
  ctx.mirror.files.delete('.airut/container/Dockerfile');
  const entered: TaskStage[] = [];
  await assert.rejects(runStages(ctx, (s) => entered.push(s)), { code: 'IMAGE_CONTEXT_MISSING' });
  assert.deepEqual(entered, ['repo-inputs', 'conversation', 'image']);
  assert.equal(ctx.backend.runs.length, 0);
});
