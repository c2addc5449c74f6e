/**
 * Finds and removes containers the daemon started and no longer owns: after a crash, every
 * container labelled `airut.managed=1` is an orphan (the daemon runs one instance per host).
 * With podman it also ends the runtime's helpers (conmon, runc init) of half-started containers
 * podman no longer lists (runtime-helpers.ts); the same filter decides which are ours.
 */
import { logger } from '../log/logger.ts';
import type { ContainerRuntime, ContainerSummary } from './container-runtime.ts';
import { callerLabels, MANAGED_LABEL, MANAGED_LABEL_KEY } from './labels.ts';
import { endRuntimeHelper, findRuntimeHelpers, releaseHalfStarted, type RuntimeHelper } from './runtime-helpers.ts';

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

/**
 * Stops and removes managed containers (all of them unless `filter` says otherwise), in parallel;
 * then ends orphaned runtime helpers of managed containers the filter accepts. Helpers ended are
 * reported among `reaped`, with the state `helpers-only`.
 */
export async function reapContainers(runtime: ContainerRuntime, options: ReapOptions = {}): Promise<ReapReport> {
  // Helpers are looked at before anything is listed: a container started after this look cannot
  // be mistaken for an orphan, since its helper is not in the list.
  const helpers = runtime.kind === 'podman' ? findRuntimeHelpers() : [];
  const report = await reapListed(runtime, helpers, options);
  // The containers are done either way: a failure here is reported, not thrown; the next reap tries again.
  const ended = helpers.length > 0 ? await endOrphanedHelpers(runtime, helpers, options).catch(helperReapFailed) : [];
  return { reaped: [...report.reaped, ...ended], failed: report.failed };
}

async function reapListed(runtime: ContainerRuntime, helpers: readonly RuntimeHelper[], options: ReapOptions): Promise<ReapReport> {
  const grace = options.graceSeconds ?? 5;
  const targets = (await runtime.listContainers({ label: MANAGED_LABEL }))
    .map((c) => ({ id: c.id, container: toManaged(c) }))
    .filter((t) => options.filter?.(t.container) ?? true);
  const reaped: ManagedContainer[] = [];
  const failed: { container: ManagedContainer; error: string }[] = [];
  await Promise.all(
    targets.map(async ({ id, container: c }) => {
      try {
        if (c.state === 'running' || c.state === 'paused') await runtime.stopContainer(c.name, grace);
        // podman shows a container killed mid-start as created; it neither ends its helpers nor
        // unmounts a /dev/shm it had not recorded yet, and then cannot remove it.
        if (c.state === 'created' && runtime.kind === 'podman') await releaseHalfStarted(id, helpers);
        await runtime.removeContainer(c.name);
        reaped.push(c);
      } catch (err) {
        failed.push({ container: c, error: err instanceof Error ? err.message : String(err) });
      }
    }),
  );
  return { reaped, failed };
}

/** Ends the helpers of managed containers the runtime does not list (any more) that `filter` accepts. */
async function endOrphanedHelpers(
  runtime: ContainerRuntime,
  helpers: readonly RuntimeHelper[],
  options: ReapOptions,
): Promise<ManagedContainer[]> {
  const listed = await runtime.listContainerIds();
  const orphans = helpers
    .filter((h) => !listed.has(h.containerId) && h.annotations[MANAGED_LABEL_KEY] === '1')
    .map((h) => ({ helper: h, container: { name: h.name, state: 'helpers-only', labels: callerLabels(h.annotations) } }))
    .filter((o) => options.filter?.(o.container) ?? true);
  await Promise.all(orphans.map((o) => endRuntimeHelper(o.helper)));
  if (orphans.length > 0) {
    logger().warn(
      { containers: orphans.map((o) => o.container.name), pids: orphans.map((o) => o.helper.pid) },
      'ended runtime helpers (conmon, runc init) of containers the runtime no longer lists',
    );
  }
  return orphans.map((o) => o.container);
}

function helperReapFailed(err: unknown): ManagedContainer[] {
  logger().warn({ err: err instanceof Error ? err.message : String(err) }, 'could not look for orphaned runtime helpers');
  return [];
}
