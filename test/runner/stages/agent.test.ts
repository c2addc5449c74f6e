/** Stage 4: the agent through the execution backend (a fake), its network, events and session. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentStage } from '../../../src/runner/stages/agent.ts';
import { RETRY_PROMPT } from '../../../src/runner/api-retry.ts';
import type { AgentOutcome } from '../../../src/sandbox/execution-backend.ts';
import { conversationStage } from '../../../src/runner/stages/conversation.ts';
import { repoInputsStage } from '../../../src/runner/stages/repo-inputs.ts';
import { fakeContext, success, type FakeTaskContext } from './fake-context.ts';

async function ready(ctx: FakeTaskContext) {
  const inputs = await repoInputsStage(ctx);
  const conversation = await conversationStage(ctx, inputs);
  return { inputs, conversation };
}

test('the agent runs in the sandboxed network with the conversation mounted; events, session and network are handled', async () => {
  const ctx = fakeContext();
  let changed = 0;
  const c = fakeContext({ onTaskChanged: () => changed++, backend: ctx.backend, mirror: ctx.mirror, store: ctx.store, events: ctx.events });
  const { inputs, conversation } = await ready(c);
  const outcome = await agentStage(c, inputs, conversation, 'airut-api:1');
  assert.equal(outcome.kind, 'success');

  const net = c.backend.networks[0]!;
  assert.ok(net, 'a sandboxed network was asked for');
  assert.equal(net.taskId, 7);
  assert.deepEqual(net.labels, { repo: 'api', conversation: 'c0ffee00' });
  assert.equal(net.maxLogRows, c.settings.taskOutput.maxNetworkRows);
  assert.equal(c.store.networkSandbox, true);
  assert.equal(changed, 1, 'the dashboard hears of the sandbox flag');

  const run = c.backend.runs[0]!;
  assert.equal(run.image, 'airut-api:1');
  assert.equal(run.model, 'sonnet');
  assert.equal(run.resumeSessionId, null);
  assert.equal(run.timeoutMs, 90_000);
  assert.equal(run.mounts.workspace, conversation.paths.workspace);
  assert.deepEqual(run.extraMounts, [{ source: conversation.paths.gitconfig, target: '/etc/airut/gitconfig' }]);
  assert.equal(run.env.GIT_CONFIG_GLOBAL, '/etc/airut/gitconfig');
  assert.match(run.prompt, /Fix the build/);
  assert.match(run.prompt, /Please fix the build\./);
  assert.equal(run.signal, c.signal);

  assert.deepEqual(c.events.recorded.map((e) => e.type), ['system_init']);
  assert.equal(c.events.finished, 1);
  assert.equal(c.backend.networkClosed, 1);
  assert.deepEqual(c.store.conversation.filter((f) => 'sessionId' in f), [{ sessionId: 'sess-1' }, { sessionId: 'sess-1' }], 'saved when reported, and at the end');
  assert.equal((await c.conversations.readContext('c0ffee00')).sessionId, 'sess-1');
});

test("the repository's resource_limits and capabilities reach the run; the server's timeout caps the file's; /storage is mounted", async () => {
  const base = fakeContext();
  const kubernetes = { resources: { requests: { cpu: '500m' }, limits: { cpu: '2', memory: '1Gi' } }, runAsUser: 1000 };
  const repo = { ...base.repo, resourceLimits: { timeoutSeconds: 30, memory: '1g', cpus: 2, pidsLimit: 100 }, capabilities: ['CHOWN', 'SETUID'], kubernetes };
  const ctx = fakeContext({ repo, backend: base.backend, mirror: base.mirror, store: base.store, events: base.events });
  const { inputs, conversation } = await ready(ctx);
  await agentStage(ctx, inputs, conversation, 'airut-api:1');
  const run = ctx.backend.runs[0]!;
  assert.deepEqual(run.limits, { memory: '1g', cpus: '2', pids: 100 });
  assert.deepEqual(run.capabilities, ['CHOWN', 'SETUID']);
  assert.deepEqual(run.kube, kubernetes, 'the pod settings travel with the run, for the kubernetes backend');
  assert.equal(run.timeoutMs, 30_000, "the file's 90 s is above the server's 30 s");
  assert.equal(run.mounts.storage, conversation.paths.storage);
});

test('with the sandbox off the backend gives the unrestricted network', async () => {
  const ctx = fakeContext();
  ctx.mirror.files.set('.airut/airut.yaml', 'network:\n  sandbox_enabled: false\n');
  const { inputs, conversation } = await ready(ctx);
  await agentStage(ctx, inputs, conversation, 'img:1');
  assert.deepEqual(ctx.backend.networks, [null]);
  assert.equal(ctx.store.networkSandbox, false);
});

test('a session that no longer fits is retried once in a fresh session with a summary', async () => {
  const ctx = fakeContext({ isFirstTask: false });
  await ctx.conversations.create('c0ffee00', { repoId: 'api', model: 'sonnet', sessionId: 'sess-old' });
  ctx.backend.outcomes = [
    { kind: 'failed', error: 'prompt is too long', sessionId: 'sess-old', exitCode: 1, costUsd: 0, promptTooLong: true, transient: null },
    success('fresh answer'),
  ];
  const { inputs, conversation } = await ready(ctx);
  const outcome = await agentStage(ctx, inputs, conversation, 'img:1');
  assert.equal(outcome.kind, 'success');
  assert.deepEqual(ctx.backend.runs.map((r) => r.resumeSessionId), ['sess-old', null]);
  assert.match(ctx.backend.runs[1]!.prompt, /The conversation started with the subject: The first subject/);
  assert.match(ctx.backend.runs[1]!.prompt, /Your last answer was:\nthe last answer/);
  assert.equal(ctx.backend.networkClosed, 1, 'one network for both runs');
});

test('a failure that is not about the context is not retried; the network is closed and events finished even when the run throws', async () => {
  const ctx = fakeContext();
  ctx.backend.outcomes = [{ kind: 'failed', error: 'exit 1', sessionId: null, exitCode: 1, costUsd: 0, promptTooLong: false, transient: null }];
  const { inputs, conversation } = await ready(ctx);
  assert.equal((await agentStage(ctx, inputs, conversation, 'img:1')).kind, 'failed');
  assert.equal(ctx.backend.runs.length, 1);

  const broken = fakeContext();
  broken.backend.runAgent = async () => {
    throw new Error('podman: not found');
  };
  const b = await ready(broken);
  await assert.rejects(agentStage(broken, b.inputs, b.conversation, 'img:1'), /podman: not found/);
  assert.equal(broken.backend.networkClosed, 1);
  assert.equal(broken.events.finished, 1);
});

test('a network sandbox that cannot start stops the task with an explanation', async () => {
  const ctx = fakeContext();
  ctx.backend.openNetwork = async () => {
    throw new Error('sidecar failed');
  };
  const { inputs, conversation } = await ready(ctx);
  await assert.rejects(agentStage(ctx, inputs, conversation, 'img:1'), { code: 'SANDBOX_START_FAILED', message: /network sandbox for this task could not be started/ });
  assert.equal(ctx.backend.runs.length, 0);
});

test('the agent run is given the task budget as maxBudgetUsd (none when there is no budget)', async () => {
  const base = fakeContext();
  const budget = { taskUsd: 0.5, senderPerDayUsd: null, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null };
  const ctx = fakeContext({ repo: { ...base.repo, budget }, backend: base.backend, mirror: base.mirror, store: base.store, events: base.events });
  const { inputs, conversation } = await ready(ctx);
  await agentStage(ctx, inputs, conversation, 'airut-api:1');
  assert.equal(ctx.backend.runs[0]!.maxBudgetUsd, 0.5);

  const none = fakeContext();
  const r = await ready(none);
  await agentStage(none, r.inputs, r.conversation, 'airut-api:1');
  assert.equal(none.backend.runs[0]!.maxBudgetUsd, null);
});

test("each run of a task gets what is left of the task's one budget: the first run's own spend is taken off the next", async () => {
  const base = fakeContext();
  const budget = { taskUsd: 0.5, senderPerDayUsd: null, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null };
  const ctx = fakeContext({ repo: { ...base.repo, budget }, backend: base.backend, mirror: base.mirror, store: base.store, events: base.events });
  const { inputs, conversation } = await ready(ctx);
  ctx.backend.outcomes = [
    // The resumed session carried $0.25 in and reports its total: this run spent $0.05.
    { kind: 'failed', error: 'prompt is too long', sessionId: 'sess-1', exitCode: 1, costUsd: 0.3, promptTooLong: true, transient: null },
    success('fresh'),
  ];
  await agentStage(ctx, inputs, { ...conversation, resumeSessionId: 'sess-1', carriedCostUsd: 0.25 }, 'airut-api:1');
  assert.deepEqual(ctx.backend.runs.map((r) => [r.resumeSessionId, r.maxBudgetUsd]), [
    ['sess-1', 0.5],
    [null, 0.45],
  ]);
});

test('retries after transient failures share the budget; one with nothing left is not made and the task is budget_exceeded', async () => {
  const base = fakeContext();
  const budget = { taskUsd: 0.5, senderPerDayUsd: null, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: null };
  const retries = { maxRetries: 5, initialDelaySeconds: 0, maxDelaySeconds: 0, maxTotalWaitSeconds: 0 };
  const ctx = fakeContext({ repo: { ...base.repo, budget, retries }, backend: base.backend, mirror: base.mirror, store: base.store, events: base.events });
  const { inputs, conversation } = await ready(ctx);
  const failing = (costUsd: number): AgentOutcome => ({
    kind: 'failed', error: 'API Error: 529', sessionId: 'sess-9', exitCode: 1, costUsd, promptTooLong: false,
    transient: { kind: 'overloaded', detail: 'API 529 overloaded_error' },
  });
  // Session totals as the CLI reports them: 0.3 after the first run, 0.5 after the second.
  ctx.backend.outcomes = [failing(0.3), failing(0.5)];
  const outcome = await agentStage(ctx, inputs, conversation, 'airut-api:1');
  assert.deepEqual(ctx.backend.runs.map((r) => r.maxBudgetUsd), [0.5, 0.2]);
  assert.equal(outcome.kind, 'budget_exceeded');
  assert.equal(outcome.sessionId, 'sess-9');
  assert.ok(outcome.kind === 'budget_exceeded' && outcome.costUsd === 0.5, 'the session total, as the CLI would report it');
});

const overloaded = (sessionId: string | null): AgentOutcome => ({
  kind: 'failed', error: 'API Error: 529 Overloaded', sessionId, exitCode: 1, costUsd: 0.01, promptTooLong: false,
  transient: { kind: 'overloaded', detail: 'API 529 overloaded_error' },
});
const noWait = { maxRetries: 3, initialDelaySeconds: 0, maxDelaySeconds: 0, maxTotalWaitSeconds: 0 };

test('a transient failure is retried after the wait, resuming the failed run\'s session with a short prompt; each retry is recorded', async () => {
  const base = fakeContext();
  const ctx = fakeContext({ repo: { ...base.repo, retries: noWait, effort: 'high' }, conversations: base.conversations });
  ctx.backend.outcomes = [overloaded('sess-1'), overloaded('sess-1'), success('made it')];
  const { inputs, conversation } = await ready(ctx);
  const outcome = await agentStage(ctx, inputs, conversation, 'img:1');
  assert.equal(outcome.kind, 'success');
  assert.deepEqual(outcome.retries, { count: 2, waitedSeconds: 0 });
  assert.deepEqual(ctx.backend.runs.map((r) => r.resumeSessionId), [null, 'sess-1', 'sess-1']);
  assert.deepEqual(ctx.backend.runs.map((r) => r.effort), ['high', 'high', 'high'], 'every run gets the effort');
  assert.equal(ctx.backend.runs[1]!.prompt, RETRY_PROMPT);
  assert.deepEqual(ctx.events.retries, [
    { attempt: 1, cause: 'overloaded', detail: 'API 529 overloaded_error', delaySeconds: 0 },
    { attempt: 2, cause: 'overloaded', detail: 'API 529 overloaded_error', delaySeconds: 0 },
  ]);
  assert.equal(ctx.backend.networkClosed, 1, 'one network for all runs');
});

test('when the retries run out the last transient failure is returned; a failed run without a session resumes the conversation\'s', async () => {
  const base = fakeContext();
  const ctx = fakeContext({ isFirstTask: false, repo: { ...base.repo, retries: { ...noWait, maxRetries: 2 } }, conversations: base.conversations });
  await ctx.conversations.create('c0ffee00', { repoId: 'api', model: 'sonnet', sessionId: 'sess-old' });
  ctx.backend.outcomes = [overloaded(null)];
  const { inputs, conversation } = await ready(ctx);
  const outcome = await agentStage(ctx, inputs, conversation, 'img:1');
  assert.ok(outcome.kind === 'failed' && outcome.transient?.kind === 'overloaded');
  assert.deepEqual(outcome.retries, { count: 2, waitedSeconds: 0 });
  assert.deepEqual(ctx.backend.runs.map((r) => r.resumeSessionId), ['sess-old', 'sess-old', 'sess-old']);
});

test('a stop during the wait ends the task as cancelled without another run', async () => {
  const base = fakeContext();
  const stop = new AbortController();
  const ctx = fakeContext({ signal: stop.signal, repo: { ...base.repo, retries: { maxRetries: 3, initialDelaySeconds: 3600, maxDelaySeconds: 3600, maxTotalWaitSeconds: 7200 } }, conversations: base.conversations });
  ctx.backend.outcomes = [overloaded('sess-1')];
  const { inputs, conversation } = await ready(ctx);
  const running = agentStage(ctx, inputs, conversation, 'img:1');
  await waitFor(() => ctx.events.retries.length === 1);
  stop.abort();
  const outcome = await running;
  assert.equal(outcome.kind, 'cancelled');
  assert.equal(outcome.sessionId, 'sess-1');
  assert.equal(ctx.backend.runs.length, 1);
});

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}
