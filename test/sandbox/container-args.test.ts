/** The isolation flags every task container gets: limits and capabilities from the repository's configuration. Pure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import { ALLOWED_CAPABILITIES, DEFAULT_LIMITS, isolationArgs, limitsFromConfig, type ContainerBase } from '../../src/sandbox/container-args.ts';
import { AirutError } from '../../src/errors.ts';

function base(overrides: Partial<ContainerBase> = {}): ContainerBase {
  return { runtime: new ContainerRuntime({ command: 'podman' }), name: 'airut-task-x-1', image: 'airut-api:abc', labels: {}, limits: DEFAULT_LIMITS, network: 'none', ...overrides };
}

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

test('resource_limits reach the container: memory, cpus and pids from the configuration', () => {
  const limits = limitsFromConfig({ memory: '512m', cpus: 1.5, pidsLimit: 64 });
  assert.deepEqual(limits, { memory: '512m', cpus: '1.5', pids: 64 });
  const args = isolationArgs(base({ limits }));
  assert.equal(flagValue(args, '--memory'), '512m');
  assert.equal(flagValue(args, '--cpus'), '1.5');
  assert.equal(flagValue(args, '--pids-limit'), '64');
});

test('podman takes the name over from a leftover itself (--replace); Docker has no such flag, so its callers remove one first', () => {
  assert.ok(isolationArgs(base()).includes('--replace'));
  assert.equal(new ContainerRuntime({ command: 'podman' }).replacesOnRun, true);
  const docker = new ContainerRuntime({ command: 'docker' });
  assert.equal(docker.replacesOnRun, false);
  assert.ok(!isolationArgs(base({ runtime: docker })).includes('--replace'));
});

test('without capabilities every one is dropped and none added back', () => {
  const args = isolationArgs(base());
  assert.ok(args.includes('--cap-drop=ALL'));
  assert.equal(args.filter((a) => a.startsWith('--cap-add')).length, 0);
});

test('configured capabilities are added back after --cap-drop=ALL, each once', () => {
  const args = isolationArgs(base({ capabilities: ['CHOWN', 'SETUID', 'CHOWN'] }));
  const drop = args.indexOf('--cap-drop=ALL');
  assert.deepEqual(args.slice(drop + 1, drop + 3), ['--cap-add=CHOWN', '--cap-add=SETUID']);
  assert.equal(args.filter((a) => a.startsWith('--cap-add')).length, 2);
  assert.ok(args.includes('no-new-privileges'), 'no new privileges still');
});

test('every allowed capability is accepted', () => {
  const args = isolationArgs(base({ capabilities: [...ALLOWED_CAPABILITIES] }));
  assert.equal(args.filter((a) => a.startsWith('--cap-add=')).length, ALLOWED_CAPABILITIES.size);
});

for (const bad of ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE', 'ALL', 'chown', 'CHOWN --privileged']) {
  test(`capability ${JSON.stringify(bad)} is refused with an error naming the allowed list and the key`, () => {
    assert.throws(
      () => isolationArgs(base({ capabilities: [bad] })),
      (err: unknown) =>
        err instanceof AirutError && err.code === 'SANDBOX_SPEC_INVALID' && err.message.includes(`"${bad}"`) && /allowed: CHOWN, /.test(err.message) && err.message.includes('capabilities'),
    );
  });
}

for (const [limits, what] of [
  [{ ...DEFAULT_LIMITS, memory: '2 g' }, 'memory limit'],
  [{ ...DEFAULT_LIMITS, cpus: '-1' }, 'cpu limit'],
  [{ ...DEFAULT_LIMITS, pids: 0 }, 'pids limit'],
] as const) {
  test(`an invalid ${what} is refused`, () => {
    assert.throws(() => isolationArgs(base({ limits })), (err: unknown) => err instanceof AirutError && err.message.includes(what));
  });
}
