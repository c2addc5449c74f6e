/**
 * Issue 14, item 6: a SIGKILL to the daemon's process group while `podman run` is starting a
 * container leaves podman's helpers (`conmon`, `runc init`) of a container podman stops listing once
 * it is removed; the reaper must end them. Docker, where dockerd starts containers, must leave
 * nothing the label reaping does not cover (its containerd shims go with their containers).
 *
 * Each round starts `run` the way the runner does (the daemon's labels, its own process group, stdin
 * open) and kills the whole group at a random moment of the start, until the dangerous window (a
 * container podman shows as `Created` while its conmon lives) was hit a few times. Then the same
 * reapContainers every caller uses runs, with the daemon's instance filter. It must fail nothing:
 * a killed start can also leave a `Created` container whose unrecorded /dev/shm mount makes a plain
 * `podman rm -f` fail.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import { managedLabels } from '../../src/sandbox/labels.ts';
import { reapContainers } from '../../src/sandbox/reaper.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { dockerShims, podmanHelpers } from '../harness/processes.ts';
import { ensureTestImage } from '../harness/test-image.ts';

process.env.AIRUT_LOG_LEVEL ??= 'error';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `run` in its own process group, as the runner's child is in the daemon's, and kills the group after `delayMs`. */
async function killMidStart(runtime: ContainerRuntime, image: string, name: string, labels: Record<string, string>, delayMs: number): Promise<void> {
  const args = ['run', '-i', '--name', name, ...runtime.labelArgs(managedLabels(labels)), image, 'sleep', '300'];
  const child = spawn(runtime.command, args, { env: runtime.processEnv(), stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  const exited = new Promise((r) => child.once('close', r));
  await sleep(delayMs);
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* it ended by itself */
  }
  await exited;
}

for (const rt of runtimeCases()) {
  describe(`with ${rt.command}`, { skip: rt.skip }, () => {
    let runtime: ContainerRuntime;
    let image: string;
    const instance = `reap${randomBytes(4).toString('hex')}`;
    const prefix = `airut-task-${instance}-`;
    const mine = (c: { labels: Readonly<Record<string, string>> }) => c.labels['instance'] === instance;

    before(async () => {
      runtime = rt.runtime();
      image = await ensureTestImage(runtime);
    });
    after(async () => {
      await reapContainers(runtime, { graceSeconds: 0, filter: mine }).catch(() => undefined);
    });

    test('killed mid-start: after the reaper no container and no runtime helper of this instance is left', { timeout: 240_000 }, async () => {
      const podman = rt.command === 'podman';
      // The window's place depends on the machine's speed and load: the kill moment follows it, later
      // when the container did not exist yet, earlier when it was already up.
      let delay = podman ? 250 : 300;
      let windowHits = 0;
      const dockerIds = new Set<string>();
      for (let round = 0; round < 80 && windowHits < 3; round++) {
        const name = `${prefix}${round}`;
        await killMidStart(runtime, image, name, { instance, task: String(round) }, delay + Math.floor(Math.random() * 40) - 20);
        await sleep(300);
        const listed = (await runtime.listContainers({ label: `airut.instance=${instance}` })).find((c) => c.name === name);
        if (podman) {
          const hasConmon = podmanHelpers(name).conmon.length > 0;
          if (listed?.state === 'created' && hasConmon) windowHits++;
          else delay += !listed ? 40 : listed.state === 'created' ? 10 : -40;
        } else {
          if (listed?.state === 'running' || listed?.state === 'created') windowHits++;
          else delay += 40;
          for (const id of (await runtime.exec(['ps', '-a', '-q', '--no-trunc', '--filter', `name=^${name}$`])).stdout.split('\n')) if (id.trim()) dockerIds.add(id.trim());
        }
        delay = Math.min(2_000, Math.max(30, delay));
      }
      assert.ok(windowHits >= 1, `no kill landed while the container was starting (${rt.command})`);

      const report = await reapContainers(runtime, { graceSeconds: 0, filter: mine });
      assert.deepEqual(report.failed, []);
      await sleep(1000);
      assert.deepEqual(await runtime.listContainers({ label: `airut.instance=${instance}` }), [], 'no container of this instance');
      if (podman) {
        assert.deepEqual(podmanHelpers(prefix), { conmon: [], runcInit: [] }, 'no conmon or runc init of this instance');
      } else {
        assert.deepEqual(dockerShims(dockerIds), [], 'no containerd shim of this instance');
      }
    });
  });
}
