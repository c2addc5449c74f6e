/**
 * The ExecutionBackend over real podman: it names and labels what it starts with the caller's ids
 * and this instance, cancels a run by task id, and reaps only this instance's containers (of one
 * task, or all of them). The real Claude CLI talks to the mock Messages API over the host network.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveClaudeBinary } from '../../src/sandbox/claude-binary.ts';
import { ContainerBackend } from '../../src/sandbox/container-backend.ts';
import type { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import type { AgentRunRequest } from '../../src/sandbox/execution-backend.ts';
import { findManagedContainers, reapContainers } from '../../src/sandbox/reaper.ts';
import { isAgentRequest, startMockAnthropic, type MockAnthropic } from '../harness/mock-anthropic.ts';
import { testRuntime } from '../harness/podman-env.ts';
import { ensureTestImage } from '../harness/test-image.ts';

process.env.AIRUT_LOG_LEVEL ??= 'warn';

const instance = `test-${randomBytes(4).toString('hex')}`;
let runtime: ContainerRuntime;
let backend: ContainerBackend;
let image: string;
let mock: MockAnthropic;
let root: string;

before(async () => {
  runtime = testRuntime();
  image = await ensureTestImage(runtime);
  mock = await startMockAnthropic((body) => (isAgentRequest(body) ? { kind: 'stall' } : { kind: 'text', text: 'side request' }));
  root = await mkdtemp(join(tmpdir(), 'airut-backend-test-'));
  backend = new ContainerBackend({ runtime, instance, containerNetwork: 'host', claudeBinaryPath: resolveClaudeBinary(), capacity: 2, sandbox: null });
});

after(async () => {
  await reapContainers(runtime, { graceSeconds: 0, filter: (c) => c.labels.instance?.startsWith(instance) ?? false });
  await mock?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function request(taskId: number): Promise<AgentRunRequest> {
  const base = await mkdtemp(join(root, 'conv-'));
  const mounts = { workspace: join(base, 'workspace'), claudeState: join(base, 'claude'), inbox: join(base, 'inbox'), outbox: join(base, 'outbox'), storage: join(base, 'storage') };
  for (const d of Object.values(mounts)) await mkdir(d, { recursive: true });
  return {
    taskId,
    labels: { repo: 'api', conversation: 'c0ffee00' },
    image,
    mounts,
    model: 'claude-sonnet-4-5',
    resumeSessionId: null,
    prompt: 'Say hello',
    env: { ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'test-key', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', CLAUDE_CODE_MAX_RETRIES: '0' },
    network: await backend.openNetwork(null),
    timeoutMs: 60_000,
  };
}

async function waitForContainer(taskId: number): Promise<{ name: string; labels: Readonly<Record<string, string>> }> {
  for (let i = 0; i < 200; i++) {
    const found = (await findManagedContainers(runtime)).find((c) => c.labels.instance === instance && c.labels.task === String(taskId));
    if (found && found.state === 'running') return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no running container for task ${taskId}`);
}

test('a run is named and labelled by task and instance, and cancel(taskId) stops it', async () => {
  assert.equal(backend.capacity, 2);
  assert.equal(backend.cancel(101), false, 'nothing runs under that id yet');
  const run = backend.runAgent(await request(101), () => undefined);
  const container = await waitForContainer(101);
  assert.equal(container.name, `airut-task-${instance}-101`);
  assert.deepEqual(container.labels, { task: '101', repo: 'api', conversation: 'c0ffee00', instance });
  assert.equal(backend.cancel(101), true);
  assert.equal((await run).kind, 'cancelled');
  assert.equal(backend.cancel(101), false, 'the run is over');
  await backend.settle(101);
  assert.equal((await findManagedContainers(runtime)).some((c) => c.name === container.name), false, 'the container is removed');
});

test("the caller's signal stops a run too", async () => {
  const controller = new AbortController();
  const run = backend.runAgent({ ...(await request(102)), signal: controller.signal }, () => undefined);
  await waitForContainer(102);
  controller.abort();
  assert.equal((await run).kind, 'cancelled');
});

test("reap removes this instance's containers of one task, then all of them, never another instance's", async () => {
  const start = (name: string, labels: Record<string, string>) =>
    runtime.execOk(
      ['run', '-d', '--name', name, ...Object.entries({ 'airut.managed': '1', ...labels }).flatMap(([k, v]) => ['--label', `${k}=${v}`]), image, 'sleep', '300'],
      'starting a leftover',
    );
  const other = `${instance}-other`;
  await start(`airut-task-${instance}-201`, { 'airut.task': '201', 'airut.instance': instance });
  await start(`airut-task-${instance}-202`, { 'airut.task': '202', 'airut.instance': instance });
  await start(`airut-task-${other}-201`, { 'airut.task': '201', 'airut.instance': other });

  const one = await backend.reap({ taskId: 201, graceSeconds: 0 });
  assert.deepEqual(one.reaped.map((c) => c.name), [`airut-task-${instance}-201`]);
  assert.deepEqual(one.failed, []);
  const all = await backend.reap({ graceSeconds: 0 });
  assert.deepEqual(all.reaped.map((c) => c.name), [`airut-task-${instance}-202`]);
  assert.ok((await findManagedContainers(runtime)).some((c) => c.name === `airut-task-${other}-201`), "another instance's container stays");
});
