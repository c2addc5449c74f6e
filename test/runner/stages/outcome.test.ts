/** Stage 5: the agent's outcome becomes the reply and the task's final state, recorded together. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { AgentOutcome } from '../../../src/sandbox/execution-backend.ts';
import type { RetriedOutcome } from '../../../src/runner/api-retry.ts';
import { conversationStage } from '../../../src/runner/stages/conversation.ts';
import { outcomeStage } from '../../../src/runner/stages/outcome.ts';
import { repoInputsStage } from '../../../src/runner/stages/repo-inputs.ts';
import type { TaskContext } from '../../../src/runner/task-context.ts';
import { fakeContext, success, type FakeTaskContext } from './fake-context.ts';

async function finish(outcome: AgentOutcome | RetriedOutcome, overrides: Partial<TaskContext> = {}, prepare?: (ctx: FakeTaskContext, outbox: string) => void) {
  const ctx = fakeContext(overrides);
  const inputs = await repoInputsStage(ctx);
  const conversation = await conversationStage(ctx, inputs);
  prepare?.(ctx, conversation.paths.outbox);
  ctx.replies.length = 0; // the acknowledgement
  const result = await outcomeStage(ctx, inputs, conversation, outcome);
  return { ctx, result, reply: ctx.replies[0] };
}

test('success: the answer with its usage footer, the outbox files attached, the task completed', async () => {
  const { ctx, result, reply } = await finish(success('All green.'), {}, (_ctx, outbox) => fs.writeFileSync(path.join(outbox, 'report.txt'), 'ok'));
  assert.deepEqual(result, { taskId: 7, status: 'completed' });
  assert.deepEqual(ctx.files.sent, [{ taskId: 7, names: ['report.txt'] }], 'the sent files are kept under the task that replied');
  assert.deepEqual(reply!.body, { kind: 'reply', markdown: 'All green.', usage: { costUsd: 0.5, turns: 3, durationMs: 1200, model: 'sonnet', senderSpend: { dayUsd: 0.5, monthUsd: 0.5, dayCapUsd: null, monthCapUsd: null } } });
  assert.deepEqual(reply!.attachments.map((a) => a.filename), ['report.txt']);
  assert.deepEqual(reply!.finish, { model: 'sonnet', sessionId: 'sess-1', status: 'completed', costUsd: 0.5, turns: 3, error: null });
});

test('a resumed task says so; an empty answer is named', async () => {
  const { reply } = await finish(success('  '), { isResume: true });
  assert.equal((reply!.body as { markdown: string }).markdown, '_This task was resumed after a restart of the service._\n\n_(Claude Code finished without a text answer.)_');
});

test('timeout: a notice with the limit in words, the task timed out', async () => {
  const { result, reply } = await finish({ kind: 'timeout', sessionId: 'sess-1' });
  assert.equal(result.status, 'timeout');
  assert.match((reply!.body as { markdown: string }).markdown, /^The task hit its time limit of 90 seconds and was stopped\./);
  assert.deepEqual(reply!.finish, { model: 'sonnet', sessionId: 'sess-1', status: 'timeout', error: 'timed out after 90 s' });
});

test('failed: an error reply with what Claude Code said', async () => {
  const { result, reply } = await finish({ kind: 'failed', error: 'exit code 2', sessionId: null, exitCode: 2, costUsd: 0.1, promptTooLong: false, transient: null });
  assert.equal(result.status, 'failed');
  assert.deepEqual(reply!.body, { kind: 'error', message: 'Claude Code did not finish the task: exit code 2' });
  assert.deepEqual(reply!.finish, { model: 'sonnet', sessionId: null, status: 'failed', error: 'exit code 2', costUsd: 0.1 });
});

test('stopped by an operator: a notice, the task cancelled; stopped by a shutdown: interrupted, no reply', async () => {
  const user = await finish({ kind: 'cancelled', sessionId: null }, { cancelReason: () => 'user' });
  assert.equal(user.result.status, 'cancelled');
  assert.match((user.reply!.body as { markdown: string }).markdown, /stopped\*\* by an operator/);
  assert.equal(user.reply!.finish!.status, 'cancelled');

  const shutdown = await finish({ kind: 'cancelled', sessionId: null }, { cancelReason: () => 'shutdown' });
  assert.equal(shutdown.result.status, 'interrupted');
  assert.equal(shutdown.reply, undefined);
  assert.deepEqual(shutdown.ctx.files.sent, [], 'no reply, nothing kept as sent');
  assert.deepEqual(shutdown.ctx.interrupted, ['stopped by a shutdown; it runs again after the restart']);
});

test('outbox files over the limits are named in the reply instead of attached', async () => {
  const base = fakeContext();
  const { reply } = await finish(
    success('Done.'),
    { settings: { ...base.settings, taskOutput: { ...base.settings.taskOutput, maxOutboxFileBytes: 4 } } },
    (_ctx, outbox) => fs.writeFileSync(path.join(outbox, 'big.bin'), 'too large'),
  );
  assert.deepEqual(reply!.attachments, []);
  assert.match((reply!.body as { markdown: string }).markdown, /^Done\.\n\n.*big\.bin/s);
});

const LIMITS = { taskUsd: 2, senderPerDayUsd: null, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null };

test('stopped by its budget: a notice with spent against the budget and what "continue" does; the task budget_exceeded', async () => {
  const base = fakeContext();
  const { result, reply } = await finish(
    { kind: 'budget_exceeded', sessionId: 'sess-1', costUsd: 2.1, turns: 4, durationMs: 900 },
    { repo: { ...base.repo, budget: LIMITS } },
  );
  assert.deepEqual(result, { taskId: 7, status: 'budget_exceeded' });
  const markdown = (reply!.body as { kind: string; markdown: string }).markdown;
  assert.equal(reply!.body.kind, 'notice');
  assert.match(markdown, /stopped by its budget\*\*: it spent \$2\.10 of its \$2\.00 budget/);
  assert.match(markdown, /Reply \*\*continue\*\* to grant it one more budget of the same size \(\$2\.00\)/);
  assert.deepEqual(reply!.finish, {
    model: 'sonnet',
    sessionId: 'sess-1',
    status: 'budget_exceeded',
    costUsd: 2.1,
    turns: 4,
    error: 'stopped by its budget: spent $2.10 of $2.00',
  });
});

test("with a sender cap set, the footer shows the sender's spend with this task's cost, against the caps", async () => {
  const base = fakeContext();
  base.store.spend = { dayUsd: 1, monthUsd: 4 };
  const { reply } = await finish(success('ok'), { repo: { ...base.repo, budget: { ...LIMITS, senderPerDayUsd: 10, senderPerMonthUsd: 100 } }, store: base.store });
  const usage = (reply!.body as { usage: { senderSpend: unknown } }).usage;
  assert.deepEqual(usage.senderSpend, { dayUsd: 1.5, monthUsd: 4.5, dayCapUsd: 10, monthCapUsd: 100 });
});

test("a resumed session's reported total becomes the task's own cost; the total is kept for the next run", async () => {
  const base = fakeContext();
  const inputs = await repoInputsStage(base);
  const first = await conversationStage(base, inputs);
  await base.conversations.updateContext(base.conversationId, (c) => ({ ...c, sessionId: 'sess-1', sessionCost: { sessionId: 'sess-1', totalUsd: 0.0008 } }));
  const ctx = fakeContext({ conversations: base.conversations, store: base.store, mirror: base.mirror, isFirstTask: false });
  const conversation = await conversationStage(ctx, inputs);
  assert.equal(first.carriedCostUsd, 0);
  assert.equal(conversation.resumeSessionId, 'sess-1');
  assert.equal(conversation.carriedCostUsd, 0.0008);
  const result = await outcomeStage(ctx, inputs, conversation, { kind: 'success', result: 'ok', sessionId: 'sess-1', costUsd: 0.0012, turns: 1, durationMs: 10 });
  assert.equal(result.status, 'completed');
  assert.equal(ctx.replies.at(-1)!.finish!.costUsd, 0.0004);
  assert.deepEqual((await base.conversations.readContext(base.conversationId)).sessionCost, { sessionId: 'sess-1', totalUsd: 0.0012 });
});

test('transient failures that outlasted the retries pause the task: the reply says what happened, that the work is kept and how to resume', async () => {
  const failed: AgentOutcome = {
    kind: 'failed', error: 'API Error: 529', sessionId: 'sess-1', exitCode: 1, costUsd: 0.2, promptTooLong: false,
    transient: { kind: 'overloaded', detail: 'API 529 overloaded_error' },
  };
  const { result, reply } = await finish({ ...failed, retries: { count: 3, waitedSeconds: 70 } });
  assert.deepEqual(result, { taskId: 7, status: 'paused' });
  const markdown = (reply!.body as { markdown: string }).markdown;
  assert.equal(reply!.body.kind, 'notice');
  assert.match(markdown, /\*\*paused\*\*/);
  assert.match(markdown, /API 529 overloaded_error/);
  assert.match(markdown, /after 3 automatic retries over 70 seconds/);
  assert.match(markdown, /work done so far is kept: reply to this mail/);
  assert.deepEqual(reply!.finish, { model: 'sonnet', sessionId: 'sess-1', status: 'paused', error: 'paused after 3 automatic retries: API 529 overloaded_error', costUsd: 0.2 });

  const off = await finish({ ...failed, retries: { count: 0, waitedSeconds: 0 } });
  assert.match((off.reply!.body as { markdown: string }).markdown, /automatic retries are turned off/);
});

test('the branches the task pushed are named in the reply, before the usage footer, whatever the outcome', async () => {
  const pushes = [{ host: 'github.com', repoPath: '/acme/app.git', refs: ['refs/heads/fix'] }];
  const ok = await finish(success('Done.'), {}, (ctx) => (ctx.store.pushes = pushes));
  assert.equal((ok.reply!.body as { markdown: string }).markdown, 'Done.\n\nPushed branch `fix` to `github.com/acme/app.git`.');
  const timedOut = await finish({ kind: 'timeout', sessionId: 'sess-1' }, {}, (ctx) => (ctx.store.pushes = pushes));
  assert.match((timedOut.reply!.body as { markdown: string }).markdown, /\n\nPushed branch `fix` to `github.com\/acme\/app.git`\.$/);
});
