/**
 * Spool files of outgoing mail: a reply with attachments is written, complete MIME, to
 * `storage_dir/outgoing-mail/` of its repository and streamed from there to SMTP (see
 * store/outgoing-mail.ts). The file is written under a temporary name, synced and renamed before
 * the row that names it is committed, so a committed row always has its whole file; a crash in
 * between leaves a file no row names, which `sweepSpool` removes.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export const SPOOL_DIRNAME = 'outgoing-mail';

export function spoolDir(storageDir: string): string {
  return path.join(storageDir, SPOOL_DIRNAME);
}

/** Writes `content` to a new file in `dir`; resolves once it is synced and in place. */
export async function writeSpoolFile(dir: string, stem: string, content: Readable): Promise<{ path: string; size: number }> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${stem}-${randomBytes(6).toString('hex')}.eml`);
  const tmp = `${file}.tmp`;
  try {
    // 'wx' is O_CREAT|O_EXCL: never an existing file, and never through a symlink.
    await pipeline(content, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
    const fh = await fs.open(tmp, fsc.O_RDONLY | (fsc.O_NOFOLLOW ?? 0));
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const { size } = await fs.stat(tmp);
    await fs.rename(tmp, file);
    return { path: file, size };
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** Removes a spool file; one that is already gone is fine. */
export async function removeSpoolFile(file: string): Promise<void> {
  await fs.rm(file, { force: true });
}

/**
 * Deletes files in `dir` that no pending mail needs (`keep`) and that are older than `minAgeMs`
 * (a task thread may be between writing its file and committing its row). Returns how many.
 */
export async function sweepSpool(dir: string, keep: ReadonlySet<string>, minAgeMs: number, now = Date.now()): Promise<number> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const file = path.join(dir, name);
    if (keep.has(file)) continue;
    const st = await fs.lstat(file).catch(() => null);
    if (!st || now - st.mtimeMs < minAgeMs) continue;
    await fs.rm(file, { force: true, recursive: true });
    removed++;
  }
  return removed;
}
