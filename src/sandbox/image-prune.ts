/**
 * Removes old images the daemon built. The sandbox does not know which image is current: the caller
 * says which to keep. Only images labelled `airut.managed=1` *and* carrying every `owner` label are
 * considered, so another daemon's images (or anyone else's) are never touched.
 */
import type { ContainerRuntime } from './container-runtime.ts';
import { callerLabels, MANAGED_LABEL } from './labels.ts';

export interface ManagedImage {
  readonly tag: string;
  readonly id: string;
  /** Caller labels without the `airut.` prefix (`repo`, `instance`, …). */
  readonly labels: Readonly<Record<string, string>>;
}

export interface PruneImagesOptions {
  /** Caller labels an image must carry to be ours, e.g. `{ instance: '…' }`. */
  readonly owner: Readonly<Record<string, string>>;
  /** True for images to keep. */
  readonly keep: (image: ManagedImage) => boolean;
}

export interface PruneReport {
  readonly removed: readonly ManagedImage[];
  /** Not removed, with the runtime's reason (typically: a container still uses it); tried again next time. */
  readonly failed: readonly { readonly image: ManagedImage; readonly error: string }[];
}

export async function listOwnImages(runtime: ContainerRuntime, owner: Readonly<Record<string, string>>): Promise<ManagedImage[]> {
  return (await runtime.listImages({ label: MANAGED_LABEL }))
    .filter((i) => !i.tag.startsWith('<none>'))
    .map((i) => ({ tag: i.tag, id: i.id, labels: callerLabels(i.labels) }))
    .filter((i) => Object.entries(owner).every(([k, v]) => i.labels[k] === v));
}

/** One at a time: removals are quick, and parallel `rmi` calls contend for podman's storage lock. */
export async function pruneImages(runtime: ContainerRuntime, options: PruneImagesOptions): Promise<PruneReport> {
  const removed: ManagedImage[] = [];
  const failed: { image: ManagedImage; error: string }[] = [];
  for (const image of await listOwnImages(runtime, options.owner)) {
    if (options.keep(image)) continue;
    try {
      await runtime.removeImage(image.tag);
      removed.push(image);
    } catch (err) {
      failed.push({ image, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { removed, failed };
}
