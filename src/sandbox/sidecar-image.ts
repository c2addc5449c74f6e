/**
 * Where the network sidecar's root filesystem comes from, per runtime.
 *
 * podman starts a container straight from a directory (`--rootfs <dir>`). Docker has no such flag: a
 * container always starts from an image. For Docker the prepared directory is therefore built into a
 * `FROM scratch` image once (a few empty files and the forwarder script: a fraction of a second),
 * tagged by the directory's content so it is rebuilt only when node or the forwarder change. The node
 * binary and its libraries stay bind mounts in both cases, as they were.
 *
 * The tag `airut/netns-sidecar:<hash>` cannot clash with a repository's image (`airut-<repo>:<hash>`,
 * no `/`), and the image carries no `airut.instance` label, so the image pruning of any daemon
 * (which keeps to its own instance's images) never removes it under a running sidecar.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ContainerRuntime } from './container-runtime.ts';
import { hashContextDir } from './image.ts';
import { managedLabels } from './labels.ts';

const SIDECAR_IMAGE = 'airut/netns-sidecar';
const DOCKERFILE = 'FROM scratch\nCOPY . /\n';

/** Builds in progress, keyed by tag: sidecars of concurrent tasks share one build. */
const inFlight = new Map<string, Promise<string>>();

/** The `run` arguments that give the sidecar its root filesystem: placed last, before the command. */
export async function sidecarRootArgs(runtime: ContainerRuntime, rootfs: string): Promise<string[]> {
  if (runtime.kind !== 'docker') return ['--rootfs', rootfs];
  return [await ensureSidecarImage(runtime, rootfs)];
}

/** The tag of the image made from `rootfs`, built if no image has it yet. */
export async function ensureSidecarImage(runtime: ContainerRuntime, rootfs: string): Promise<string> {
  const tag = `${SIDECAR_IMAGE}:${await hashContextDir(rootfs)}`;
  const running = inFlight.get(tag);
  if (running) return running;
  const job = (async () => {
    if (await runtime.imageExists(tag)) return tag;
    // The Dockerfile sits beside the directory, not in it, so the image holds exactly the directory.
    const dockerfile = `${rootfs}.Dockerfile`;
    await fs.writeFile(dockerfile, DOCKERFILE);
    await runtime.buildImage({
      contextDir: rootfs,
      dockerfile: path.relative(rootfs, dockerfile),
      tag,
      labels: managedLabels({ role: 'network-sidecar' }),
    });
    return tag;
  })();
  inFlight.set(tag, job);
  try {
    return await job;
  } finally {
    inFlight.delete(tag);
  }
}
