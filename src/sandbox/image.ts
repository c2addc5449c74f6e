/**
 * Container images for a repository, tagged by the content of their build context so that an image
 * is built once and reused while `.airut/container/` is unchanged, and rebuilt without the build
 * cache once it is older than the configured age (`execution.image_max_age_hours`, as Airut): an
 * unchanged Dockerfile would otherwise keep the packages of its first build for ever. The age is
 * the runtime's own creation time (`image inspect`), so it survives restarts. There is one image per
 * repository, nothing is layered on it (the Claude binary is mounted, the proxy is its own image),
 * so a rebuild has nothing after it to rebuild.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AirutError } from '../errors.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { LABEL_PREFIX, MANAGED_LABEL_KEY, managedLabels } from './labels.ts';

export interface EnsureImageOptions {
  readonly runtime: ContainerRuntime;
  /** The build context (a directory holding a `Dockerfile`). */
  readonly contextDir: string;
  /** Opaque id of the repository the image belongs to; goes into the tag and a label. */
  readonly repoId: string;
  /**
   * More labels for a newly built image, namespaced like container labels (`{ instance: 'x' }` →
   * `airut.instance=x`). An image that already exists keeps the labels of whoever built it.
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Called with the tag before the image is looked up or built, so the caller can record that the
   * tag is in use before anything could prune it.
   */
  readonly onTag?: (tag: string) => void;
  /** Longest a build may take (see ContainerRuntime.buildImage); none when unset. */
  readonly buildTimeoutMs?: number;
  /** An image older than this is rebuilt with `--no-cache`; 0 or unset: never by age. */
  readonly maxAgeHours?: number;
  /** The clock the age is judged by (ms since the epoch); tests move it. Default Date.now. */
  readonly now?: () => number;
}

export interface EnsuredImage {
  readonly tag: string;
  /** True when this call (or a concurrent one it joined) built the image. */
  readonly built: boolean;
  /** Set when it was built because the image with this tag was older than `maxAgeHours`: its creation time (ms). */
  readonly staleCreatedAt?: number;
  /** The build log when built, else empty. */
  readonly log: string;
  /**
   * Set when a stale image could not be rebuilt (a registry or package mirror down, the build timed
   * out): why. The image with this tag is the one that worked until now, and the task runs on it.
   */
  readonly staleRebuildError?: string;
}

const HASH_HEX_LENGTH = 16;
// Image repository names must be lowercase and may not start with a separator.
const IMAGE_NAME_PART = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** Builds in progress, keyed by tag: concurrent callers for the same tag share one build. */
const inFlight = new Map<string, Promise<EnsuredImage>>();

/**
 * A hash of the context directory: every file's relative path and content, sorted by path, so that
 * the same content always gives the same tag wherever it is checked out. Symbolic links count by
 * their target text; file modes and times do not count.
 */
export async function hashContextDir(contextDir: string): Promise<string> {
  const files: string[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(join(contextDir, rel), { withFileTypes: true });
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else files.push(p);
    }
  }
  try {
    await walk('');
  } catch (err) {
    throw new AirutError('IMAGE_BUILD_FAILED', `cannot read build context ${contextDir}: ${String(err)}`, {
      cause: err,
    });
  }
  files.sort();
  const hash = createHash('sha256');
  for (const rel of files) {
    const full = join(contextDir, rel);
    const st = await lstat(full);
    if (st.isSymbolicLink()) {
      const link = Buffer.from(`symlink:${await readlink(full)}`);
      hash.update(`${rel}\0${link.length}\0`);
      hash.update(link);
      continue;
    }
    // Streamed: a context may hold a large binary (the Kubernetes tools image holds Claude Code,
    // ~400 MB), and several runner threads may hash at once.
    hash.update(`${rel}\0${st.size}\0`);
    for await (const chunk of createReadStream(full)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex').slice(0, HASH_HEX_LENGTH);
}

/** Whether an image created at `createdMs` is older than `maxAgeHours` at `nowMs`; 0 hours: never stale. */
export function imageIsStale(createdMs: number, maxAgeHours: number, nowMs: number): boolean {
  return maxAgeHours > 0 && nowMs - createdMs > maxAgeHours * 3_600_000;
}

/** The tag for a repository's image built from a context with this hash. */
export function imageTag(repoId: string, contextHash: string): string {
  const name = `airut-${repoId.toLowerCase()}`;
  if (!IMAGE_NAME_PART.test(name)) {
    throw new AirutError(
      'IMAGE_BUILD_FAILED',
      `repository id "${repoId}" cannot be used in an image name: use letters, digits, . _ - only`,
    );
  }
  return `${name}:${contextHash}`;
}

/**
 * Returns the tag of the image for this context, building it only if no image has that tag yet.
 * Labels: `airut.managed=1`, `airut.repo=<repoId>`, plus `options.labels` under `airut.`.
 */
export async function ensureImage(options: EnsureImageOptions): Promise<EnsuredImage> {
  const tag = imageTag(options.repoId, await hashContextDir(options.contextDir));
  options.onTag?.(tag);
  const running = inFlight.get(tag);
  if (running) return running;
  const job = (async (): Promise<EnsuredImage> => {
    const createdAt = await options.runtime.imageCreatedAt(tag);
    const stale = createdAt !== null && imageIsStale(createdAt, options.maxAgeHours ?? 0, (options.now ?? Date.now)());
    if (createdAt !== null && !stale) return { tag, built: false, log: '' };
    let log: string;
    try {
      log = await options.runtime.buildImage({
        contextDir: options.contextDir,
        tag,
        labels: { ...managedLabels(options.labels ?? {}), [MANAGED_LABEL_KEY]: '1', [`${LABEL_PREFIX}repo`]: options.repoId },
        ...(options.buildTimeoutMs !== undefined ? { timeoutMs: options.buildTimeoutMs } : {}),
        noCache: stale,
      });
    } catch (err) {
      // Only a refresh failed: a failed build leaves the tag on the image that worked, so the task
      // runs on that one instead of failing for the sake of freshness. The next task tries again.
      if (!stale) throw err;
      return { tag, built: false, log: '', staleRebuildError: (err as Error).message.slice(-2000) };
    }
    return { tag, built: true, log, ...(stale ? { staleCreatedAt: createdAt } : {}) };
  })();
  inFlight.set(tag, job);
  try {
    return await job;
  } finally {
    inFlight.delete(tag);
  }
}
