/** The `run` arguments for companion repositories (buildRunArgs is pure; the real mounts are in test/e2e/multi-repo.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRunArgs, type AgentRunSpec } from '../../src/sandbox/run-agent.ts';
import { DEFAULT_LIMITS } from '../../src/sandbox/container-args.ts';

function spec(overrides: Partial<AgentRunSpec>): AgentRunSpec {
  return {
    runtime: { kind: 'podman', labelArgs: () => [] } as unknown as AgentRunSpec['runtime'],
    image: 'img',
    name: 'airut-task-x-1',
    labels: {},
    mounts: { workspace: '/c/workspace', claudeState: '/c/claude', inbox: '/c/inbox', outbox: '/c/outbox', storage: '/c/storage' },
    claudeBinary: '/opt/claude',
    model: 'sonnet',
    resumeSessionId: null,
    prompt: 'p',
    env: {},
    timeoutMs: 1000,
    limits: DEFAULT_LIMITS,
    network: 'none',
    ...overrides,
  };
}

test('a read companion is mounted read-only, a write companion writable; relabelled on SELinux hosts', () => {
  const repoMounts = [
    { source: '/c/repos/docs', target: '/repos/docs', readOnly: true },
    { source: '/c/repos/lib', target: '/repos/lib', readOnly: false },
  ];
  const { args } = buildRunArgs(spec({ repoMounts }), '/run/env');
  assert.ok(args.includes('/c/repos/docs:/repos/docs:ro'), args.join(' '));
  assert.ok(args.includes('/c/repos/lib:/repos/lib'), args.join(' '));
  const relabelled = buildRunArgs(spec({ repoMounts, relabelMounts: true }), '/run/env').args;
  assert.ok(relabelled.includes('/c/repos/docs:/repos/docs:ro,Z'));
  assert.ok(relabelled.includes('/c/repos/lib:/repos/lib:Z'));
});

test('a mount target or source that could smuggle options or escape is refused', () => {
  for (const target of ['/repos/../etc', 'repos/x', '/repos/a:rw', '/repos/a,b']) {
    assert.throws(() => buildRunArgs(spec({ repoMounts: [{ source: '/c/repos/a', target, readOnly: true }] }), '/run/env'), /not a plain absolute path/, target);
  }
  assert.throws(() => buildRunArgs(spec({ repoMounts: [{ source: '/c/repos/a:rw', target: '/repos/a', readOnly: true }] }), '/run/env'), /must not contain/);
});
