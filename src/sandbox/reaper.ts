/**
 * Finds and removes containers the daemon started and no longer owns: after a crash, every
 * container labelled `airut.managed=1` is an orphan (the daemon runs one instance per host).
 */
import type { ContainerRuntime, ContainerSummary } from './container-runtime.ts';
import { callerLabels, MANAGED_LABEL } from './labels.ts';

export interface ManagedContainer {
  readonly name: string;
  readonly state: string;
  /** The caller labels (`task`, `repo`, `conversation`, …) without the `airut.` prefix. */
  readonly labels: Readonly<Record<string, string>>;
}

function toManaged(c: ContainerSummary): ManagedContainer {
  return { name: c.name, state: c.state, labels: callerLabels(c.labels) };
}

/** Every container, running or not, that carries `airut.managed=1`. */
export async function findManagedContainers(runtime: ContainerRuntime): Promise<ManagedContainer[]> {
  return (await runtime.listContainers({ label: MANAGED_LABEL })).map(toManaged);
}

export interface ReapOptions {
  /** Seconds between SIGTERM and SIGKILL for containers still running. Default 5. */
  readonly graceSeconds?: number;
  /** Reap only the containers this returns true for (e.g. not the ones of running tasks). */
  readonly filter?: (container: ManagedContainer) => boolean;
}

export interface ReapReport {
  readonly reaped: readonly ManagedContainer[];
  /** Containers that could not be removed, with the reason; tried again at the next reap. */
  readonly failed: readonly { readonly container: ManagedContainer; readonly error: string }[];
}

/** Stops and removes managed containers (all of them unless `filter` says otherwise), in parallel. */
export async function reapContainers(runtime: ContainerRuntime, options: ReapOptions = {}): Promise<ReapReport> {
  const grace = options.graceSeconds ?? 5;
  const targets = (await findManagedContainers(runtime)).filter((c) => options.filter?.(c) ?? true);
  const reaped: ManagedContainer[] = [];
  const failed: { container: ManagedContainer; error: string }[] = [];
  await Promise.all(
    targets.map(async (c) => {
      try {
        if (c.state === 'running' || c.state === 'paused') await runtime.stopContainer(c.name, grace);
        await runtime.removeContainer(c.name);
        reaped.push(c);
      } catch (err) {
        failed.push({ container: c, error: err instanceof Error ? err.message : String(err) });
      }
    }),
  );
  return { reaped, failed };
}
