/**
 * The `repo_images` table: which image each repository's tasks use, so old images can be pruned
 * without removing the one in use. The newest `last_used_at` of a repository is its current image.
 */
import { writeTransaction, type Db } from './database.ts';

/** Remembers that a task of `repoId` uses image `tag` (called before the image is built or run). */
export function recordRepoImage(db: Db, repoId: string, tag: string, now: number = Date.now()): void {
  writeTransaction(db, () => {
    db.prepare(
      `INSERT INTO repo_images (repo_id, tag, last_used_at) VALUES (?, ?, ?)
       ON CONFLICT (repo_id, tag) DO UPDATE SET last_used_at = max(last_used_at, excluded.last_used_at)`,
    ).run(repoId, tag, now);
  });
}

export interface ImagesInUse {
  /** The current image of each repository that has one recorded, plus every image used since `since`. */
  readonly keep: ReadonlySet<string>;
  /** Repositories with no recorded image: which of their images is current is unknown. */
  readonly unknownRepos: ReadonlySet<string>;
}

export function imagesInUse(db: Db, repoIds: readonly string[], since: number): ImagesInUse {
  const keep = new Set<string>();
  const unknownRepos = new Set<string>();
  const current = db.prepare(`SELECT tag FROM repo_images WHERE repo_id = ? ORDER BY last_used_at DESC, tag LIMIT 1`);
  for (const repoId of repoIds) {
    const row = current.get(repoId) as { tag: string } | undefined;
    if (row) keep.add(row.tag);
    else unknownRepos.add(repoId);
  }
  for (const r of db.prepare(`SELECT tag FROM repo_images WHERE last_used_at >= ?`).all(since) as Array<{ tag: string }>) keep.add(r.tag);
  return { keep, unknownRepos };
}

/** Forgets an image after it was removed. */
export function forgetRepoImage(db: Db, tag: string): void {
  writeTransaction(db, () => db.prepare(`DELETE FROM repo_images WHERE tag = ?`).run(tag));
}
