/**
 * The image a repository's tasks ran in a moment ago, per runner thread: when the default branch's
 * container directory is the same tree (same object id, so the same files), the image built from it
 * is the same, and a task can skip exporting the context, hashing it and asking the runtime (or the
 * registry) again — the work every task of a busy repository repeats (docs/benchmarks.md).
 *
 * Kept for REUSE_MS only: the full check still runs regularly, so an image removed by hand or grown
 * older than `execution.image_max_age_hours` is noticed within a minute. The daemon's own image GC
 * never removes it meanwhile: a reused answer is recorded as the repository's image like a fresh one.
 */

export const IMAGE_REUSE_MS = 60_000;
const MAX_ENTRIES = 256;

export interface ReusedImage {
  /** The local tag the image GC knows (recorded as the repository's image). */
  readonly localTag: string;
  /** What the agent runs: the local tag, or with Kubernetes the pullable digest reference. */
  readonly runTag: string;
}

const recent = new Map<string, ReusedImage & { readonly at: number }>();

/** The key: repository, container path and the tree's object id. */
export function imageReuseKey(repoId: string, containerPath: string, treeOid: string): string {
  return `${repoId}\0${containerPath}\0${treeOid}`;
}

export function reusableImage(key: string, now: number): ReusedImage | null {
  const e = recent.get(key);
  if (!e) return null;
  if (now - e.at >= IMAGE_REUSE_MS) {
    recent.delete(key);
    return null;
  }
  return e;
}

export function rememberImage(key: string, image: ReusedImage, now: number): void {
  recent.delete(key);
  if (recent.size >= MAX_ENTRIES) recent.delete(recent.keys().next().value!);
  recent.set(key, { ...image, at: now });
}

/** Tests: start from nothing. */
export function forgetImages(): void {
  recent.clear();
}
