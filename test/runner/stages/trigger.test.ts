/** A scheduled run's trigger_command decides whether the agent runs, and its output becomes the prompt. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ScheduleConfig } from '../../../src/config/types.ts';
import { runStages } from '../../../src/runner/run-task.ts';
import type { TaskStage } from '../../../src/protocol/runner.ts';
import { testRepoServerConfig } from '../../harness/repo-server-config.ts';
import { fakeContext, taskRow } from './fake-context.ts';

function schedule(overrides: Partial<ScheduleConfig> = {}): ScheduleConfig {
  return {
    name: 'nightly', cron: '30 2 * * *', timezone: 'UTC', prompt: null, triggerCommand: './failing-tests.sh',
    triggerTimeoutSeconds: 60, outputLimitBytes: 20, subject: 'Nightly', model: null, effort: null, enabled: true,
    deliverTo: 'ops@example.com', ...overrides,
  };
}

function scheduledContext(s: ScheduleConfig | null) {
  const base = fakeContext({ task: taskRow({ sender: 'ops@example.com', subject: 'Nightly' }) });
  const repo = testRepoServerConfig('api', { storageDir: base.repo.storageDir, schedules: s ? { [s.name]: s } : {} });
  return fakeContext({ ...base, repo, schedule: 'nightly', task: base.task });
}

async function run(ctx: ReturnType<typeof scheduledContext>): Promise<{ result: unknown; entered: TaskStage[] }> {
  const entered: TaskStage[] = [];
  const result = await runStages(ctx, (stage) => entered.push(stage));
  return { result, entered };
}

test('trigger_command exits 1: no agent run, no mail of any kind, the task ends cancelled with the reason', async () => {
  const ctx = scheduledContext(schedule());
  ctx.backend.commandOutcome = { kind: 'exited', exitCode: 1, output: 'all green', truncatedBytes: 0, stderrTail: '' };
  const { result, entered } = await run(ctx);
  assert.deepEqual(result, { taskId: 7, status: 'cancelled' });
  assert.deepEqual(entered, ['repo-inputs', 'conversation', 'image', 'trigger']);
  assert.equal(ctx.backend.runs.length, 0);
  assert.equal(ctx.replies.length, 0, 'neither an acknowledgement nor a reply');
  assert.equal(ctx.finished.length, 1);
  assert.equal(ctx.finished[0]!.status, 'cancelled');
  assert.match(ctx.finished[0]!.error ?? '', /^trigger_command exited 1: nothing to do, the agent did not run$/);
  const cmd = ctx.backend.commands[0]!;
  assert.equal(cmd.command, './failing-tests.sh');
  assert.equal(cmd.timeoutMs, 60_000);
  assert.equal(cmd.outputLimitBytes, 20);
  assert.match(cmd.workspace, /workspace$/);
  assert.equal(ctx.backend.networkClosed, 1, 'the trigger\'s network is closed');
});

test("trigger_command's container gets the repository's resource_limits and capabilities, as the agent's does", async () => {
  const base = scheduledContext(schedule());
  const repo = { ...base.repo, resourceLimits: { timeoutSeconds: null, memory: '768m', cpus: 0.5, pidsLimit: 64 }, capabilities: ['KILL'], kubernetes: { resources: {}, runAsUser: 42 } };
  const ctx = fakeContext({ ...base, repo, schedule: 'nightly', task: base.task });
  ctx.backend.commandOutcome = { kind: 'exited', exitCode: 1, output: '', truncatedBytes: 0, stderrTail: '' };
  await run(ctx);
  const cmd = ctx.backend.commands[0]!;
  assert.deepEqual(cmd.limits, { memory: '768m', cpus: '0.5', pids: 64 });
  assert.deepEqual(cmd.capabilities, ['KILL']);
  assert.deepEqual(cmd.kube, { resources: {}, runAsUser: 42 });
});

test('trigger_command exits 0: the agent runs with its output as the prompt, the cut marked; no acknowledgement', async () => {
  const ctx = scheduledContext(schedule());
  ctx.backend.commandOutcome = { kind: 'exited', exitCode: 0, output: 'FAIL test/a.test.ts\n', truncatedBytes: 1234, stderrTail: '' };
  const { result, entered } = await run(ctx);
  assert.deepEqual(result, { taskId: 7, status: 'completed' });
  assert.deepEqual(entered, ['repo-inputs', 'conversation', 'image', 'trigger', 'agent', 'outcome']);
  const prompt = ctx.backend.runs[0]!.prompt;
  assert.match(prompt, /trigger command `\.\/failing-tests\.sh` ran in the repository and exited 0/);
  assert.match(prompt, /FAIL test\/a\.test\.ts/);
  assert.match(prompt, /\[output cut: 1234 more bytes beyond output_limit \(20 bytes\) were dropped\]/);
  assert.deepEqual(ctx.replies.map((r) => r.body.kind), ['reply']);
  assert.equal(ctx.store.requestTexts.length, 1, 'the request shows what the agent read');
  assert.match(ctx.store.requestTexts[0]!, /FAIL test\/a\.test\.ts/);
});

test('trigger_command over its timeout: no agent run, no mail, the task ends timeout with the error output', async () => {
  const ctx = scheduledContext(schedule());
  ctx.backend.commandOutcome = { kind: 'timeout', output: '', truncatedBytes: 0, stderrTail: 'still waiting for the network\n' };
  const { result } = await run(ctx);
  assert.deepEqual(result, { taskId: 7, status: 'timeout' });
  assert.equal(ctx.backend.runs.length, 0);
  assert.equal(ctx.replies.length, 0);
  assert.match(ctx.finished[0]!.error ?? '', /longer than trigger_timeout \(60 s\).*still waiting for the network/);
});

test('a prompt schedule runs the agent on the mail body, without a trigger command and without an acknowledgement', async () => {
  const ctx = scheduledContext(schedule({ prompt: 'Check the build.', triggerCommand: null }));
  const { result, entered } = await run(ctx);
  assert.deepEqual(result, { taskId: 7, status: 'completed' });
  assert.ok(entered.includes('trigger'));
  assert.equal(ctx.backend.commands.length, 0);
  assert.match(ctx.backend.runs[0]!.prompt, /Please fix the build\./);
  assert.deepEqual(ctx.replies.map((r) => r.body.kind), ['reply']);
});

test('a queued run whose schedule a reload removed ends cancelled without running', async () => {
  const ctx = scheduledContext(null);
  const { result } = await run(ctx);
  assert.deepEqual(result, { taskId: 7, status: 'cancelled' });
  assert.equal(ctx.backend.runs.length, 0);
  assert.equal(ctx.replies.length, 0);
  assert.match(ctx.finished[0]!.error ?? '', /schedule nightly is no longer in repos\.api\.schedules/);
});
