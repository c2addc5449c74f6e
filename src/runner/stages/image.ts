/**
 * Stage 3, image: the container image from the repository's `container_path` (default
 * `.airut/container/`) on the default branch, built by the execution backend (or reused while its
 * content hash is unchanged and it is younger than `execution.image_max_age_hours`), one build at a
 * time per repo. While that directory's tree is the one a task of this thread used a moment ago,
 * its answer is taken as is (image-reuse.ts).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AirutError } from '../../errors.ts';
import { DEFAULTS } from '../../config/defaults.ts';
import { withFileLock } from '../../git/lock.ts';
import { imageReuseKey, rememberImage, reusableImage } from '../image-reuse.ts';
import type { EnsuredImage } from '../../sandbox/image.ts';
import type { TaskContext } from '../task-context.ts';
import { UserFacingError } from '../user-facing-error.ts';

/** Returns the image tag the agent runs in. */
export async function imageStage(ctx: TaskContext): Promise<string> {
  const { repo } = ctx;
  const reuseKey = await treeKey(ctx);
  const reused = reuseKey === null ? null : reusableImage(reuseKey, Date.now());
  if (reused) {
    ctx.store.recordImage(reused.localTag);
    return reused.runTag;
  }
  let localTag: string | null = null;
  const contextDir = await fs.mkdtemp(path.join(os.tmpdir(), `airut-image-${repo.repoId}-`));
  try {
    const files = await ctx.mirror.exportDir(repo.containerPath, contextDir);
    if (!files.some((f) => f === 'Dockerfile' || f === 'Containerfile')) {
      throw new UserFacingError(
        'IMAGE_CONTEXT_MISSING',
        `The repository has no \`${repo.containerPath}/Dockerfile\` on its default branch, so there is no image to run the task in.` +
          (repo.containerPath === DEFAULTS.containerPath ? '' : ` (The operator set \`container_path: ${repo.containerPath}\` for this repository.)`),
      );
    }
    const outcome = await withFileLock(path.join(repo.storageDir, 'image-build.lock'), async () => {
      // Tasks of this thread that waited here behind the first take its answer instead of asking again.
      const meanwhile = reuseKey === null ? null : reusableImage(reuseKey, Date.now());
      if (meanwhile) return { reused: meanwhile, built: undefined } as const;
      const ensured = await ctx.backend.ensureImage({
        contextDir,
        repoId: repo.repoId,
        // The record makes it the current image of the repo, so the image GC keeps it.
        onTag: (tag) => {
          localTag = tag;
          ctx.store.recordImage(tag);
        },
        buildTimeoutMs: ctx.settings.imageBuildTimeoutSeconds * 1000,
        maxAgeHours: ctx.settings.imageMaxAgeHours,
      });
      // Remembered inside the lock, so the tasks queued behind it see it.
      await remember(ctx, reuseKey, localTag, ensured);
      return { reused: undefined, built: ensured } as const;
    });
    if (outcome.reused !== undefined) {
      ctx.store.recordImage(outcome.reused.localTag);
      return outcome.reused.runTag;
    }
    const built = outcome.built;
    if (built.staleRebuildError !== undefined) {
      ctx.log.warn(
        { image: built.tag, maxAgeHours: ctx.settings.imageMaxAgeHours, err: built.staleRebuildError },
        'the image is older than execution.image_max_age_hours but could not be rebuilt; the task runs on the existing image and the next task tries again',
      );
    } else if (built.staleCreatedAt !== undefined) {
      ctx.log.info({ image: built.tag, createdAt: new Date(built.staleCreatedAt).toISOString(), maxAgeHours: ctx.settings.imageMaxAgeHours }, 'image rebuilt without cache: older than execution.image_max_age_hours');
    } else if (built.built) ctx.log.info({ image: built.tag }, 'image built');
    return built.tag;
  } catch (err) {
    throw imageFailure(err, ctx.settings.imageBuildTimeoutSeconds, repo.containerPath);
  } finally {
    await fs.rm(contextDir, { recursive: true, force: true });
  }
}

/**
 * Files the answer for the next tasks of this thread — only when the branch did not move while the
 * context was read (else the key would name a tree this image was not built from) and nothing is
 * left to retry.
 */
async function remember(ctx: TaskContext, reuseKey: string | null, localTag: string | null, built: EnsuredImage): Promise<void> {
  if (reuseKey === null || localTag === null || built.staleRebuildError !== undefined) return;
  if ((await treeKey(ctx)) === reuseKey) rememberImage(reuseKey, { localTag, runTag: built.tag }, Date.now());
}

/** The reuse key of the container directory on the default branch; null when it is missing or unreadable (the full path explains). */
async function treeKey(ctx: TaskContext): Promise<string | null> {
  const tree = await ctx.mirror.treeOid(ctx.repo.containerPath).catch(() => null);
  return tree === null ? null : imageReuseKey(ctx.repo.repoId, ctx.repo.containerPath, tree);
}

/** What the sender is told when no image could be had. */
function imageFailure(err: unknown, limit: number, containerPath: string): Error {
  if (err instanceof UserFacingError) return err;
  if (err instanceof AirutError && err.code === 'IMAGE_BUILD_TIMEOUT') {
    return new UserFacingError(
      'IMAGE_BUILD_TIMEOUT',
      `Building the container image from \`${containerPath}/\` took longer than ${limit >= 120 && limit % 60 === 0 ? `${limit / 60} minutes` : `${limit} seconds`} ` +
        'and was stopped, so the task did not run. Look for a step that waits (a download that hangs, a prompt waiting for input) ' +
        'or makes the build slow; the operator can raise `execution.image_build_timeout`. The image is built again on the next task.\n\n' +
        err.message,
      { cause: err },
    );
  }
  return new UserFacingError('IMAGE_BUILD_FAILED', `Building the container image failed:\n\n${(err as Error).message}`, { cause: err });
}
