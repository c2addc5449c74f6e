/**
 * Issue 14, item 6, end to end: the daemon's whole process group is SIGKILLed while `podman run` is
 * starting a task's container (a crash of the daemon, or a service manager killing the group), then
 * the daemon is started again the normal way. podman's `conmon` and `runc init` of that container
 * outlive the kill (conmon runs in its own session); podman may not list the container any more once
 * it is removed, so only the start-up reaping through the helpers' OCI annotations ends them.
 *
 * The real daemon with Dovecot, the SMTP capture server, podman and the real Claude Code CLI against
 * the mock API. Each round sends a mail, kills the group the moment a conmon of this daemon's
 * instance shows up, restarts, and checks: no container and no helper of the instance is left once
 * the daemon says it is running, and the interrupted task still gets exactly one final reply. Rounds
 * go on until a kill landed inside the window (the container not running yet while its conmon lives).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import { startDaemon, writeTestConfig, type DaemonProcess, type TestConfig } from '../harness/daemon-process.ts';
import { podmanHelpers } from '../harness/processes.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { instanceId } from '../../src/instance-id.ts';

const podman = runtimeCases().find((c) => c.command === 'podman');
const skip = podman ? podman.skip : 'AIRUT_TEST_RUNTIMES leaves podman out';
let env: E2eEnv;

before(async () => {
  if (!skip) env = await startE2eEnv({ repoIds: ['alpha'], runtime: podman });
});

after(async () => {
  await env?.stop();
});

/** Resolves as soon as a conmon of a container named `prefix…` runs (checked as often as the loop allows). */
async function firstConmon(prefix: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (podmanHelpers(prefix).conmon.length > 0) return true;
    await new Promise((r) => setImmediate(r));
  }
  return false;
}

function start(cfg: TestConfig): DaemonProcess {
  return startDaemon(cfg, [], env.podmanEnv, { ownProcessGroup: true });
}

test('the daemon killed while podman starts a container: the restart ends the helpers left behind, and the task gets one reply', { skip, timeout: 600_000 }, async () => {
  const alpha = await env.repo('alpha', repoYaml());
  const cfg = writeTestConfig({
    repos: [alpha],
    global: { container_command: 'podman', container_network: 'host', execution: { max_concurrent: 1, shutdown_timeout: 5 } },
  });
  const prefix = `airut-task-${instanceId(cfg.dbPath)}-`;
  let daemon = start(cfg);
  let windowHits = 0;
  try {
    await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'the daemon to run');
    for (let round = 0; round < 8 && windowHits < 1; round++) {
      const m = await env.send('alpha', `killed mid-start ${round}`, `answer round ${round}`);
      assert.ok(await firstConmon(prefix, 60_000), `round ${round}: a conmon of the task's container`);
      await daemon.killGroup();
      const helpers = podmanHelpers(prefix);
      const task = taskFor(cfg, m);
      const name = `${prefix}${task?.id}`;
      const state = env.runtime.cli(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.State}}']).trim().toLowerCase();
      // Inside the window: the helpers live but the container never reached `running`.
      if (helpers.conmon.length > 0 && !state.startsWith('running') && !state.startsWith('up')) windowHits++;
      assert.equal(task?.status, 'running', `round ${round}: the task was taken when the daemon died`);

      daemon = start(cfg);
      await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'the restarted daemon to run');
      assert.deepEqual(podmanHelpers(prefix), { conmon: [], runcInit: [] }, `round ${round}: no conmon or runc init of this instance after start-up (state was "${state}")`);
      assert.ok(
        !daemon.logs.some((l) => l.level === 'error' && /orphan container/.test(l.msg)),
        `round ${round}: every container left was removed`,
      );
      const reply = await env.finalReplyTo(m, 120_000);
      assert.ok(reply, `round ${round}: the interrupted task was run again to its reply`);
      await new Promise((r) => setTimeout(r, 1000)); // a second reply would be here by now
      assert.equal(env.finalRepliesTo(m).length, 1, `round ${round}: exactly one final reply`);
      assert.equal(taskFor(cfg, m)?.status, 'completed');
    }
    assert.ok(windowHits >= 1, 'no kill landed while the container was starting; the test proved nothing');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
