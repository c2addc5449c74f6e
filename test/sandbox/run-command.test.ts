/**
 * A schedule's trigger_command in a real container (podman, the busybox test image): exit code,
 * bounded output with the cut counted, variables from the env file (never argv), the timeout, and
 * the container removed afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import { DEFAULT_LIMITS } from '../../src/sandbox/run-agent.ts';
import { buildCommandArgs, runCommand, type CommandRunSpec } from '../../src/sandbox/run-command.ts';
import { testRuntime } from '../harness/podman-env.ts';
import { ensureTestImage } from '../harness/test-image.ts';
import { capMask, CGROUP_PROBE, parseProbe } from '../harness/cgroup-probe.ts';

process.env.AIRUT_LOG_LEVEL ??= 'warn';
const execFileP = promisify(execFile);
const runId = randomBytes(4).toString('hex');
let runtime: ContainerRuntime;
let image: string;
let root: string;
let counter = 0;

before(async () => {
  runtime = testRuntime();
  image = await ensureTestImage(runtime);
  root = await mkdtemp(join(tmpdir(), 'airut-cmd-test-'));
});

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

function spec(command: string, overrides: Partial<CommandRunSpec> = {}): CommandRunSpec {
  counter += 1;
  return {
    runtime,
    image,
    name: `airut-test-cmd-${runId}-${counter}`,
    labels: { task: `c${runId}-${counter}`, repo: 'testrepo', testrun: runId },
    workspace: join(root, `ws-${counter}`),
    command,
    env: { SECRET_TOKEN: 'never-on-argv-42' },
    network: 'none',
    limits: DEFAULT_LIMITS,
    timeoutMs: 60_000,
    outputLimitBytes: 1000,
    ...overrides,
  };
}

test('exit 0 gives the output; the workspace is the working directory; secrets come from the env file', async () => {
  const s = spec('cat marker.txt; echo "token=$SECRET_TOKEN"; echo to-stderr >&2');
  await mkdir(s.workspace, { recursive: true });
  await writeFile(join(s.workspace, 'marker.txt'), 'from the clone\n');
  const out = await runCommand(s);
  assert.deepEqual(out, { kind: 'exited', exitCode: 0, output: 'from the clone\ntoken=never-on-argv-42\n', truncatedBytes: 0, stderrTail: 'to-stderr\n' });
  const { args } = buildCommandArgs(s, '/tmp/env-file');
  assert.ok(!args.join(' ').includes('never-on-argv-42'), 'no secret value on the command line');
});

test('a non-zero exit is reported with its code', async () => {
  const out = await runCommand(spec('echo nothing to do; exit 3'));
  assert.equal(out.kind, 'exited');
  assert.equal(out.kind === 'exited' && out.exitCode, 3);
});

test('output beyond output_limit is dropped and counted', async () => {
  const out = await runCommand(spec('i=0; while [ $i -lt 100 ]; do echo 0123456789; i=$((i+1)); done', { outputLimitBytes: 25 }));
  assert.equal(out.kind, 'exited');
  if (out.kind !== 'exited') return;
  assert.equal(out.output, '0123456789\n0123456789\n012');
  assert.equal(out.truncatedBytes, 1100 - 25);
});

test('a command over its timeout is stopped and reported as timeout; no container is left', async () => {
  const s = spec('echo started; sleep 600', { timeoutMs: 1500 });
  const out = await runCommand(s);
  assert.equal(out.kind, 'timeout');
  const { stdout } = await execFileP(runtime.command, ['ps', '-a', '--filter', `name=${s.name}`, '--format', '{{.Names}}'], { env: runtime.processEnv() });
  assert.equal(stdout.trim(), '');
});

test('an aborted run is cancelled', async () => {
  const controller = new AbortController();
  const pending = runCommand(spec('sleep 600', { signal: controller.signal }));
  setTimeout(() => controller.abort(), 1000);
  assert.deepEqual(await pending, { kind: 'cancelled' });
});

test('bad specs are refused with a clear error before anything runs', async () => {
  await assert.rejects(runCommand(spec('true', { workspace: 'relative/path' })), { code: 'SANDBOX_SPEC_INVALID', message: /workspace mount "relative\/path" must be an absolute path/ });
  await assert.rejects(runCommand(spec('true', { image: '-bad' })), { code: 'SANDBOX_SPEC_INVALID', message: /image "-bad" is not valid/ });
  await assert.rejects(runCommand(spec('true', { env: { 'BAD NAME': 'x' } })), { code: 'SANDBOX_SPEC_INVALID' });
});

test("the repository's memory, cpu and pids limits are the container's cgroup limits; CapEff holds exactly the configured capabilities", async () => {
  const out = await runCommand(spec(CGROUP_PROBE, { limits: { memory: '300m', cpus: '0.5', pids: 77 }, capabilities: ['CHOWN', 'SETUID'], outputLimitBytes: 4000 }));
  assert.equal(out.kind, 'exited');
  const probe = out.kind === 'exited' ? parseProbe(out.output) : null;
  assert.ok(probe, `probe output: ${JSON.stringify(out)}`);
  assert.equal(probe.memory, 300 * 1024 * 1024);
  assert.equal(probe.cpu, 0.5);
  assert.equal(probe.pids, 77);
  assert.equal(probe.capEff, capMask(['CHOWN', 'SETUID']));
  const none = await runCommand(spec(CGROUP_PROBE, { outputLimitBytes: 4000 }));
  assert.equal(none.kind === 'exited' ? parseProbe(none.output)?.capEff : null, 0n, 'no capability without configuration');
});
