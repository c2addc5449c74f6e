/**
 * The real Claude Code CLI in a real container, talking to the mock Messages API, once per runtime
 * (podman, and Docker where its daemon runs: test/harness/runtimes.ts). The container uses the host
 * network so that it reaches the mock on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { resolveClaudeBinary } from '../../src/sandbox/claude-binary.ts';
import { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import { findManagedContainers, reapContainers } from '../../src/sandbox/reaper.ts';
import {
  buildRunArgs,
  containerRemoved,
  DEFAULT_LIMITS,
  runAgent,
  type AgentEvent,
  type AgentOutcome,
  type AgentRunSpec,
} from '../../src/sandbox/run-agent.ts';
import {
  allMessageText,
  isAgentRequest,
  isToolResultTurn,
  lastToolResultText,
  startMockAnthropic,
  type MockAnthropic,
  type MockScript,
} from '../harness/mock-anthropic.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { ensureTestImage } from '../harness/test-image.ts';

process.env.AIRUT_LOG_LEVEL ??= 'warn';

const execFileP = promisify(execFile);
const MODEL = 'claude-sonnet-4-5';

let runtime: ContainerRuntime;
let image: string;
let mock: MockAnthropic;
let root: string;
const runId = randomBytes(4).toString('hex');
let counter = 0;

/** Agent answers: run one tool (when `tool` given) and then say `final(toolResult)`. */
function toolThenText(
  tool: { name: string; input: Record<string, unknown> } | null,
  final: (toolResult: string) => string,
): MockScript {
  return (body) => {
    if (!isAgentRequest(body)) return { kind: 'text', text: 'side request' };
    if (tool && !isToolResultTurn(body)) return { kind: 'tool_use', name: tool.name, input: tool.input };
    return { kind: 'text', text: final(lastToolResultText(body)) };
  };
}

async function conversationDirs(): Promise<AgentRunSpec['mounts']> {
  const base = await mkdtemp(join(root, 'conv-'));
  return {
    workspace: join(base, 'workspace'),
    claudeState: join(base, 'claude'),
    inbox: join(base, 'inbox'),
    outbox: join(base, 'outbox'),
    storage: join(base, 'storage'),
  };
}

/** What the CLI needs to talk to the mock, quietly and without retries. */
function cliEnv(): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: mock.url,
    ANTHROPIC_API_KEY: 'test-key',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
  };
}

function spec(overrides: Partial<AgentRunSpec> & { mounts: AgentRunSpec['mounts'] }): AgentRunSpec {
  counter += 1;
  const task = `t${runId}-${counter}`;
  return {
    runtime,
    image,
    name: `airut-test-${task}`,
    labels: { task, repo: 'testrepo', conversation: 'c0ffee00', testrun: runId },
    claudeBinary: resolveClaudeBinary(),
    model: MODEL,
    resumeSessionId: null,
    prompt: 'Say hello',
    env: cliEnv(),
    timeoutMs: 60_000,
    limits: DEFAULT_LIMITS,
    network: 'host',
    ...overrides,
  };
}

/** One run, and (as the runner does before a task ends) the removal of its container, which follows the outcome. */
async function run(s: AgentRunSpec): Promise<{ outcome: AgentOutcome; events: AgentEvent[] }> {
  const events: AgentEvent[] = [];
  const outcome = await runAgent(s, (e) => events.push(e));
  await containerRemoved(s.name);
  return { outcome, events };
}

/**
 * The runtime with its container removals held, once `arm()` was called, until `release()`: shows what waits for the
 * removal and what does not. Removals before `arm()` (Docker's `rm -f` before every run) pass at once.
 */
function gatedRemoval(of: ContainerRuntime): { runtime: ContainerRuntime; arm: () => void; release: () => void; asked: () => number } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let armed = false;
  let asked = 0;
  class Gated extends ContainerRuntime {
    override async removeContainer(name: string): Promise<void> {
      if (armed) {
        asked++;
        await gate;
      }
      return super.removeContainer(name);
    }
  }
  return { runtime: new Gated({ command: of.command, env: of.env, kind: of.kind }), arm: () => (armed = true), release, asked: () => asked };
}

async function containersLabelled(label: string): Promise<string[]> {
  const { stdout } = await execFileP(runtime.command, ['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}'], {
    env: runtime.processEnv(),
  });
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

before(async () => {
  mock = await startMockAnthropic(toolThenText(null, () => 'hello'));
  root = await mkdtemp(join(tmpdir(), 'airut-sandbox-test-'));
});

after(async () => {
  await mock?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function runAgentTests(): void {
  test('a simple prompt ends in success with init, text and result events', async () => {
    mock.setScript(toolThenText(null, () => 'Hello from the mock'));
    const before = mock.messageRequests().length;
    const s = spec({ mounts: await conversationDirs(), prompt: 'Please greet me' });
    const { outcome, events } = await run(s);

    assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    assert.ok(outcome.kind === 'success');
    assert.equal(outcome.result, 'Hello from the mock');
    assert.match(outcome.sessionId, /^[0-9a-f-]{36}$/);
    assert.ok(outcome.costUsd > 0, 'cost is reported');
    assert.ok(outcome.turns >= 1);

    const init = events.find((e) => e.type === 'system_init');
    assert.ok(init && init.type === 'system_init');
    assert.equal(init.sessionId, outcome.sessionId);
    assert.equal(init.model, MODEL);
    assert.ok(events.some((e) => e.type === 'assistant_text' && e.text === 'Hello from the mock'));
    const result = events.find((e) => e.type === 'result');
    assert.ok(result && result.type === 'result' && !result.isError && result.sessionId === outcome.sessionId);

    const sent = mock.messageRequests().slice(before);
    assert.ok(sent.some((r) => r.body && allMessageText(r.body).includes('Please greet me')), 'prompt reached the API');
    assert.deepEqual(await containersLabelled(`airut.task=${s.labels['task']}`), [], 'container removed');
  });

  test('a leftover container with the same name (a crashed run of the task) does not stop the run, and is gone after it', async () => {
    mock.setScript(toolThenText(null, () => 'after a crash'));
    const s = spec({ mounts: await conversationDirs() });
    // What a crash leaves: a stopped container of that name with the task's labels.
    const labels = Object.entries(s.labels).flatMap(([k, v]) => ['--label', `airut.${k}=${v}`]);
    await execFileP(runtime.command, ['create', '--name', s.name, ...labels, image, 'true'], { env: runtime.processEnv() });
    const { outcome } = await run(s);
    assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    assert.deepEqual(await containersLabelled(`airut.task=${s.labels['task']}`), [], 'neither the leftover nor the run is left');
  });

  // A deadline: a removal held by mistake must fail this test, not hang the suite.
  test('the outcome does not wait for the container removal; containerRemoved does, and so does the next run of the same name', { timeout: 120_000 }, async () => {
    mock.setScript(toolThenText(null, () => 'answered before the removal'));
    const gated = gatedRemoval(runtime);
    const s = spec({ mounts: await conversationDirs(), runtime: gated.runtime });
    // Armed once the container runs: the removal held is the one after the run.
    const outcome = await runAgent(s, (e) => {
      if (e.type === 'system_init') gated.arm();
    });
    assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    assert.ok(gated.asked() >= 1, 'the removal was started');
    assert.deepEqual(await containersLabelled(`airut.task=${s.labels['task']}`), [s.name], 'the stopped container is still there while its removal is held');
    let removed = false;
    const waiting = containerRemoved(s.name).then(() => (removed = true));
    // A retry of the task (same container name) must not start while the first container is being removed.
    let secondStarted = false;
    const second = runAgent({ ...s, prompt: 'again' }, (e) => {
      if (e.type === 'system_init') secondStarted = true;
    });
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(removed, false);
    assert.equal(secondStarted, false, 'the second run waited for the first removal');
    gated.release();
    await waiting;
    assert.equal(removed, true);
    assert.equal((await second).kind, 'success');
    await containerRemoved(s.name);
    assert.deepEqual(await containersLabelled(`airut.task=${s.labels['task']}`), [], 'both runs removed');
  });

  test('a Write tool call lands in the host outbox; a Bash tool call reads the host inbox', async () => {
    const mounts = await conversationDirs();
    await makeDirs(mounts);
    await writeFile(join(mounts.inbox, 'x.txt'), 'attachment content 42\n');

    mock.setScript(
      toolThenText({ name: 'Write', input: { file_path: '/outbox/hello.txt', content: 'hello outbox\n' } }, () => 'written'),
    );
    const first = await run(spec({ mounts }));
    assert.equal(first.outcome.kind, 'success', JSON.stringify(first.outcome));
    assert.equal(await readFile(join(mounts.outbox, 'hello.txt'), 'utf8'), 'hello outbox\n');
    const use = first.events.find((e) => e.type === 'tool_use');
    assert.ok(use && use.type === 'tool_use' && use.name === 'Write');

    let seenToolResult = '';
    mock.setScript(
      toolThenText({ name: 'Bash', input: { command: 'cat /inbox/x.txt', description: 'read attachment' } }, (r) => {
        seenToolResult = r;
        return 'read it';
      }),
    );
    const second = await run(spec({ mounts }));
    assert.equal(second.outcome.kind, 'success', JSON.stringify(second.outcome));
    assert.match(seenToolResult, /attachment content 42/);
    const result = second.events.find((e) => e.type === 'tool_result');
    assert.ok(result && result.type === 'tool_result' && result.content.includes('attachment content 42'));
  });

  test('--resume sends the earlier turns to the API', async () => {
    const mounts = await conversationDirs();
    mock.setScript(toolThenText(null, () => 'first answer: the code word is PAPAYA'));
    const first = await run(spec({ mounts, prompt: 'first question about bananas' }));
    assert.ok(first.outcome.kind === 'success', JSON.stringify(first.outcome));

    mock.setScript(toolThenText(null, () => 'second answer'));
    const before = mock.messageRequests().length;
    const second = await run(spec({ mounts, prompt: 'second question', resumeSessionId: first.outcome.sessionId }));
    assert.ok(second.outcome.kind === 'success', JSON.stringify(second.outcome));
    assert.equal(second.outcome.sessionId, first.outcome.sessionId);
    assert.ok(second.outcome.costUsd > first.outcome.costUsd, 'cost accumulates across resumes');

    const agentCalls = mock.messageRequests().slice(before).filter((r) => r.body && isAgentRequest(r.body));
    assert.ok(agentCalls.length >= 1);
    const text = allMessageText(agentCalls[0]!.body!);
    assert.match(text, /first question about bananas/);
    assert.match(text, /PAPAYA/);
    assert.match(text, /second question/);
  });

  test('a 529 ends the run at once as transient, and --resume of its session continues: on the first request and after a tool call', async () => {
    const overloaded = { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' } as const;
    // 529 on the very first request: the session exists already (system init) and holds the prompt.
    const mounts = await conversationDirs();
    mock.setScript((body) => (isAgentRequest(body) ? overloaded : { kind: 'text', text: 'side request' }));
    const cut = await run(spec({ mounts, prompt: 'question about KIWI' }));
    assert.ok(cut.outcome.kind === 'failed' && cut.outcome.transient?.kind === 'overloaded', JSON.stringify(cut.outcome));
    assert.ok(cut.outcome.sessionId, 'the failed run reports its session');
    mock.setScript(toolThenText(null, () => 'continued'));
    const before = mock.messageRequests().length;
    const resumed = await run(spec({ mounts, prompt: 'continue where you left off', resumeSessionId: cut.outcome.sessionId }));
    assert.ok(resumed.outcome.kind === 'success', JSON.stringify(resumed.outcome));
    assert.equal(resumed.outcome.sessionId, cut.outcome.sessionId);
    const first = mock.messageRequests().slice(before).find((r) => r.body && isAgentRequest(r.body));
    assert.match(allMessageText(first!.body!), /question about KIWI[\s\S]*continue where you left off/);

    // 529 on a later request (after a tool ran): the resumed session still has the tool's result.
    const mounts2 = await conversationDirs();
    mock.setScript((body) => {
      if (!isAgentRequest(body)) return { kind: 'text', text: 'side request' };
      if (!isToolResultTurn(body)) return { kind: 'tool_use', name: 'Bash', input: { command: 'echo tool-said-MANGO', description: 'echo' } };
      return overloaded;
    });
    const cut2 = await run(spec({ mounts: mounts2, prompt: 'run the tool' }));
    assert.ok(cut2.outcome.kind === 'failed' && cut2.outcome.transient?.kind === 'overloaded', JSON.stringify(cut2.outcome));
    mock.setScript(toolThenText(null, () => 'continued after the tool'));
    const before2 = mock.messageRequests().length;
    const resumed2 = await run(spec({ mounts: mounts2, prompt: 'continue where you left off', resumeSessionId: cut2.outcome.sessionId }));
    assert.ok(resumed2.outcome.kind === 'success', JSON.stringify(resumed2.outcome));
    const next = mock.messageRequests().slice(before2).find((r) => r.body && isAgentRequest(r.body));
    assert.match(allMessageText(next!.body!), /tool-said-MANGO/, 'the tool result survived the cut');
  });

  test('a stalled API hits the timeout: outcome timeout, container gone, workspace kept', async () => {
    const mounts = await conversationDirs();
    await makeDirs(mounts);
    await writeFile(join(mounts.workspace, 'work.txt'), 'keep me');
    mock.setScript(() => ({ kind: 'stall' }));
    const s = spec({ mounts, timeoutMs: 2_500, stopGraceSeconds: 1 });
    const started = Date.now();
    const { outcome } = await run(s);
    assert.equal(outcome.kind, 'timeout', JSON.stringify(outcome));
    assert.ok(Date.now() - started < 20_000);
    assert.deepEqual(await containersLabelled(`airut.task=${s.labels['task']}`), []);
    assert.equal(await readFile(join(mounts.workspace, 'work.txt'), 'utf8'), 'keep me');
  });

  test('aborting the signal cancels the run and removes the container', async () => {
    mock.setScript(() => ({ kind: 'stall' }));
    const controller = new AbortController();
    const s = spec({ mounts: await conversationDirs(), signal: controller.signal, stopGraceSeconds: 1 });
    setTimeout(() => controller.abort(), 1_500);
    const { outcome } = await run(s);
    assert.equal(outcome.kind, 'cancelled');
    assert.deepEqual(await containersLabelled(`airut.task=${s.labels['task']}`), []);
  });

  test('an API error fails the run with its text; "prompt is too long" is recognised', async () => {
    mock.setScript(() => ({
      kind: 'error',
      status: 400,
      type: 'invalid_request_error',
      message: 'prompt is too long: 210000 tokens > 200000 maximum',
    }));
    const tooLong = await run(spec({ mounts: await conversationDirs() }));
    assert.equal(tooLong.outcome.kind, 'failed', JSON.stringify(tooLong.outcome));
    assert.ok(tooLong.outcome.kind === 'failed');
    assert.match(tooLong.outcome.error, /prompt is too long/i);
    assert.equal(tooLong.outcome.promptTooLong, true);

    mock.setScript(() => ({ kind: 'error', status: 500, type: 'api_error', message: 'the mock is broken today' }));
    const serverError = await run(spec({ mounts: await conversationDirs() }));
    assert.equal(serverError.outcome.kind, 'failed', JSON.stringify(serverError.outcome));
    assert.ok(serverError.outcome.kind === 'failed');
    assert.match(serverError.outcome.error, /500|mock is broken/);
    assert.equal(serverError.outcome.promptTooLong, false);
  });

  test('a secret reaches the agent through the env file, never the command line', async () => {
    const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
    let seen = '';
    mock.setScript(
      toolThenText({ name: 'Bash', input: { command: 'echo "value=$MYSECRET"', description: 'print secret' } }, (r) => {
        seen = r;
        return 'done';
      }),
    );
    const s = spec({ mounts: await conversationDirs(), env: { ...cliEnv(), MYSECRET: secret } });
    const { args, envFileText } = buildRunArgs(s, '/run/env-file');
    assert.ok(!args.join('\n').includes(secret), 'secret value is not in argv');
    assert.ok(!args.includes('MYSECRET'), 'nor its name');
    assert.match(envFileText, new RegExp(`^MYSECRET=${secret}$`, 'm'));
    // The daemon owns retries: the CLI gives up at the first transient failure, and a repository cannot change that.
    assert.ok(args.join(' ').includes('-e CLAUDE_CODE_MAX_RETRIES=0'));
    const overridden = buildRunArgs(spec({ mounts: s.mounts, env: { CLAUDE_CODE_MAX_RETRIES: '10' } }), '/run/env-file');
    assert.ok(!overridden.envFileText.includes('CLAUDE_CODE_MAX_RETRIES'), "a repository's value is dropped");
    assert.ok(overridden.args.join(' ').includes('-e CLAUDE_CODE_MAX_RETRIES=0'));
    // Background tasks off, always (Airut's #617): a repository's value is dropped, the sandbox's wins.
    assert.ok(args.join(' ').includes('-e CLAUDE_CODE_DISABLE_BACKGROUND_TASKS=1'));
    const background = buildRunArgs(spec({ mounts: s.mounts, env: { CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: '0' } }), '/run/env-file');
    assert.ok(!background.envFileText.includes('CLAUDE_CODE_DISABLE_BACKGROUND_TASKS'));
    assert.ok(background.args.join(' ').includes('-e CLAUDE_CODE_DISABLE_BACKGROUND_TASKS=1'));

    const { outcome } = await run(s);
    assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    assert.match(seen, new RegExp(`value=${secret}`));
  });

  test('a 64 MB stdout line without a newline is cut at maxLineBytes; the run still ends in success with its result', async () => {
    // The agent writes straight to the CLI's stdout (PID 1 of the container), as a hostile one can.
    const command = "head -c 64000000 /dev/zero | tr '\\0' a > /proc/1/fd/1; printf '\\n' > /proc/1/fd/1; echo wrote";
    mock.setScript(toolThenText({ name: 'Bash', input: { command, description: 'flood stdout' } }, (r) => `tool said: ${r.trim()}`));
    const { outcome, events } = await run(spec({ mounts: await conversationDirs(), prompt: 'flood', maxLineBytes: 1024 * 1024 }));
    assert.equal(outcome.kind, 'success', JSON.stringify(outcome).slice(0, 500));
    assert.ok(outcome.kind === 'success' && /tool said: wrote/.test(outcome.result));
    const cut = events.filter((e) => e.type === 'output_truncated');
    assert.equal(cut.length, 1, 'one truncation event');
    const t = cut[0]!;
    assert.ok(t.type === 'output_truncated');
    assert.equal(t.keptBytes, 1024 * 1024);
    assert.equal(t.keptBytes + t.droppedBytes, 64_000_000);
    assert.equal(t.preview, 'a'.repeat(200));
    assert.ok(!events.some((e) => e.type === 'raw' && e.text.length > 1024 * 1024), 'no event carries the long line');
  });

  test('variables the runtime itself reads reach only the container; the CLI gets a fixed environment (issue 13, item 6)', async () => {
    const dir = await mkdtemp(join(root, 'wrap-'));
    const dumps = join(dir, 'dumps');
    await mkdir(dumps);
    const wrapper = await runtimeWrapper(dir, dumps);
    const envFileDir = join(dir, 'env-files');
    const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const hostile: Record<string, string> = {
      LISTEN_FDS: '3',
      LISTEN_PID: '1',
      _CONTAINERS_USERNS_CONFIGURED: 'done',
      _CONTAINERS_ROOTLESS_UID: '4242',
      GOTRACEBACK: 'crash',
      SSL_CERT_DIR: '/nonexistent-certs',
      CONTAINERS_CONF: '/nonexistent',
      CONTAINER_HOST: 'tcp://127.0.0.1:1',
      PATH: '/usr/local/bin:/usr/bin:/bin:/opt/extra',
      TASK_SECRET: secret,
    };
    // The daemon's own environment holds things the runtime has no business with either.
    process.env.AIRUT_TEST_DAEMON_ONLY = 'daemon-private-value';
    let inside = '';
    let fileGoneWhileRunning: boolean | null = null;
    mock.setScript(async (body) => {
      if (!isAgentRequest(body)) return { kind: 'text', text: 'side request' };
      if (!isToolResultTurn(body)) {
        // The container is up and talking: its env file must already be gone.
        fileGoneWhileRunning = (await readdir(envFileDir)).length === 0;
        return { kind: 'tool_use', name: 'Bash', input: { command: 'env', description: 'show env' } };
      }
      inside = lastToolResultText(body);
      return { kind: 'text', text: 'done' };
    });
    try {
      const wrapped = new ContainerRuntime({ command: wrapper, env: runtime.env });
      const { outcome } = await run(spec({ mounts: await conversationDirs(), runtime: wrapped, envFileDir, env: { ...cliEnv(), ...hostile } }));
      assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    } finally {
      delete process.env.AIRUT_TEST_DAEMON_ONLY;
    }
    for (const [name, value] of Object.entries(hostile)) assert.ok(inside.includes(`${name}=${value}`), `${name} inside the container:\n${inside}`);
    assert.equal(fileGoneWhileRunning, true, 'the env file is removed once the container runs');
    assert.deepEqual(await readdir(envFileDir), [], 'no env file left after the run');

    const calls = await readdir(dumps);
    assert.ok(calls.some((f) => f.startsWith('argv-')), 'the wrapper saw the CLI calls');
    let sawRun = false;
    for (const f of calls) {
      const text = await readFile(join(dumps, f), 'utf8');
      if (f.startsWith('env-')) {
        const names = text.split('\n').map((l) => l.split('=')[0]);
        for (const name of [...Object.keys(hostile).filter((n) => n !== 'PATH' && n !== 'CONTAINERS_CONF'), 'AIRUT_TEST_DAEMON_ONLY', 'ANTHROPIC_API_KEY']) {
          assert.ok(!names.includes(name), `${name} reached the runtime CLI (${f})`);
        }
        assert.ok(!text.includes('/nonexistent') && !text.includes('/opt/extra'), `a repository value reached the runtime CLI (${f})`);
      } else {
        assert.ok(!text.includes(secret) && !text.includes('test-key'), `a secret is on the command line (${f})`);
        if (text.split('\n')[0] === 'run') sawRun = true;
      }
    }
    assert.ok(sawRun, 'the run call was captured');
  });

  test('a missing runtime is a CONTAINER_RUNTIME_MISSING error', async () => {
    const s = spec({ mounts: await conversationDirs(), runtime: new ContainerRuntime({ command: 'no-such-podman-xyz' }) });
    await assert.rejects(runAgent(s, () => undefined), { code: 'CONTAINER_RUNTIME_MISSING' });
  });
}

function reaperTests(): void {
  test('finds labelled leftovers and removes them', async () => {
    const task = `orphan-${runId}`;
    const name = `airut-test-${task}`;
    await runtime.execOk(
      [
        'run',
        '-d',
        '--name',
        name,
        '--label',
        'airut.managed=1',
        '--label',
        `airut.task=${task}`,
        '--label',
        `airut.testrun=${runId}`,
        image,
        'sleep',
        '300',
      ],
      'starting an orphan',
    );
    const found = await findManagedContainers(runtime);
    const orphan = found.find((c) => c.name === name);
    assert.ok(orphan, 'orphan found');
    assert.equal(orphan.labels['task'], task);
    assert.equal(orphan.state, 'running');

    const report = await reapContainers(runtime, { graceSeconds: 0, filter: (c) => c.labels['testrun'] === runId });
    assert.ok(report.reaped.some((c) => c.name === name));
    assert.deepEqual(report.failed, []);
    assert.deepEqual(await containersLabelled(`airut.task=${task}`), []);
  });

  // A `podman rm` killed half-way (the daemon's process group signalled, OOM) leaves a record whose
  // storage is gone; `container inspect` then fails for every name it is given. `buildah rm` makes one.
  test('a podman container whose storage is gone neither hides the others nor stays', async (t) => {
    const skip = brokenContainerSkip();
    if (skip) return t.skip(skip);
    const labels = ['--label', 'airut.managed=1', '--label', `airut.testrun=${runId}`];
    const broken = `airut-test-broken-${runId}`;
    const healthy = `airut-test-healthy-${runId}`;
    await runtime.execOk(['create', '--name', broken, ...labels, '--label', 'airut.task=broken', image, 'true'], 'creating');
    await runtime.execOk(['run', '-d', '--name', healthy, ...labels, '--label', 'airut.task=healthy', image, 'sleep', '300'], 'starting');
    const id = (await runtime.execOk(['container', 'inspect', '--format', '{{.Id}}', broken], 'inspecting')).stdout.trim();
    await execFileP('buildah', ['rm', id], { env: runtime.processEnv() });
    assert.notEqual((await runtime.exec(['container', 'inspect', broken, healthy])).exitCode, 0, 'inspect fails as in the field');

    const found = (await findManagedContainers(runtime)).filter((c) => c.labels['testrun'] === runId);
    assert.deepEqual(found.map((c) => [c.name, c.labels['task']]).sort(), [[broken, 'broken'], [healthy, 'healthy']]);
    assert.equal(found.find((c) => c.name === healthy)?.state, 'running');

    const report = await reapContainers(runtime, { graceSeconds: 0, filter: (c) => c.labels['testrun'] === runId });
    assert.deepEqual(report.failed, []);
    assert.deepEqual(report.reaped.map((c) => c.name).sort(), [broken, healthy]);
    assert.deepEqual(await containersLabelled(`airut.testrun=${runId}`), []);
  });
}

/** Why the broken-storage case cannot run with this runtime, or false. */
function brokenContainerSkip(): string | false {
  if (runtime.kind !== 'podman') return 'Docker keeps no record apart from its storage';
  try {
    execFileSync('buildah', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'buildah is not installed (scripts/ci-setup.sh installs it)';
  }
}

for (const rt of runtimeCases()) {
  describe(`with ${rt.command}`, { skip: rt.skip }, () => {
    before(async () => {
      runtime = rt.runtime();
      image = await ensureTestImage(runtime);
    });
    after(async () => {
      await reapContainers(runtime, { graceSeconds: 0, filter: (c) => c.labels['testrun'] === runId });
    });
    describe('runAgent with the real Claude CLI', runAgentTests);
    describe('reaper', reaperTests);
  });
}

async function makeDirs(mounts: AgentRunSpec['mounts']): Promise<void> {
  for (const d of Object.values(mounts)) await mkdir(d, { recursive: true });
  assert.ok(existsSync(mounts.inbox));
  assert.deepEqual(await readdir(mounts.outbox), []);
}

/** A `podman` (or `docker`) that records its environment and arguments in `dumps`, then runs the real one. */
async function runtimeWrapper(dir: string, dumps: string): Promise<string> {
  const real = (await execFileP('sh', ['-c', `command -v ${runtime.command}`])).stdout.trim();
  const wrapper = join(dir, runtime.command);
  await writeFile(
    wrapper,
    `#!/bin/sh\nn=$$-$(date +%s%N)\nenv > '${dumps}/env-'$n\nfor a in "$@"; do printf '%s\\n' "$a"; done > '${dumps}/argv-'$n\nexec '${real}' "$@"\n`,
    { mode: 0o755 },
  );
  return wrapper;
}
