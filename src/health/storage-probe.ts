/**
 * Checks that the directories the daemon writes to still take writes (a full disk, a file system
 * remounted read-only, changed permissions or attributes), without waiting for a task to fail
 * there, and notices by itself when they work again.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { storageFaultOf, type StorageHealth } from './storage-faults.ts';

export interface ProbeTarget {
  /** `database` or `storage:<repo>`. */
  readonly area: string;
  readonly dirs: readonly string[];
}

/** What to probe: the database's directory, and each repo's storage dir and conversations dir. */
export function probeTargets(config: ServerConfig): ProbeTarget[] {
  return [
    { area: 'database', dirs: [path.dirname(config.global.databasePath)] },
    ...Object.values(config.repos).map((r) => ({
      area: `storage:${r.repoId}`,
      dirs: [r.storageDir, path.join(r.storageDir, 'conversations')],
    })),
  ];
}

/**
 * Faults of a whole file system: when a write in one directory fails with one of these, every
 * directory on that file system would fail the same way.
 */
const FILE_SYSTEM_FAULTS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

/**
 * What one probe round learnt per file system (`st_dev`): null when a file was written and synced
 * there, else the file-system-wide error it met. With a hundred repositories on one disk, a round
 * writes and syncs once instead of two hundred times; every other directory is checked with
 * `access(W_OK)`, which still sees a read-only mount, lost permissions and the immutable attribute.
 */
export type ProbeRound = Map<number, { readonly dir: string; readonly err: unknown | null }>;

/**
 * Whether `dir` takes writes; the error if not. The first directory of each file system in a
 * round (`round`) gets a small file written, synced and removed: only a real write finds a full
 * disk. A directory that does not exist yet passes when it can be made on first use (see
 * cannotCreate). Without `round`, every directory gets the real write.
 */
export async function probeDirectory(dir: string, round?: ProbeRound): Promise<unknown | null> {
  let dev: number;
  try {
    const st = await fs.stat(dir);
    if (!st.isDirectory()) return Object.assign(new Error(`ENOTDIR: ${dir} is not a directory`), { code: 'ENOTDIR', path: dir });
    dev = st.dev;
  } catch {
    return cannotCreate(dir);
  }
  const known = round?.get(dev);
  if (known) {
    if (known.err !== null) return sameFileSystemFault(dir, known.dir, known.err);
    try {
      await fs.access(dir, fsConstants.W_OK);
      return null;
    } catch (err) {
      return err;
    }
  }
  const err = await writeProbeFile(dir);
  // A directory's own refusal (permissions, attributes) says nothing of its file system: the next
  // directory there gets a real write too.
  if (err === null || FILE_SYSTEM_FAULTS.has(errorCode(err))) round?.set(dev, { dir, err });
  return err;
}

async function writeProbeFile(dir: string): Promise<unknown | null> {
  const file = path.join(dir, `.airut-write-probe-${process.pid}`);
  let handle: fs.FileHandle | null = null;
  try {
    handle = await fs.open(file, 'w');
    await handle.write('ok\n');
    await handle.sync();
    return null;
  } catch (err) {
    return err;
  } finally {
    await handle?.close().catch(() => undefined);
    await fs.rm(file, { force: true }).catch(() => undefined);
  }
}

/** The fault found in `probed`, told of `dir`, which is on the same file system. */
function sameFileSystemFault(dir: string, probed: string, err: unknown): Error {
  const code = errorCode(err);
  return Object.assign(new Error(`${code}: ${dir} cannot take writes: a write in ${probed}, on the same file system, failed: ${(err as Error).message ?? String(err)}`), { code, path: dir });
}

function errorCode(err: unknown): string {
  return String((err as { code?: unknown }).code ?? 'EUNKNOWN');
}

/**
 * Why a missing `dir` could not be made, or null: its nearest existing ancestor must be a
 * directory we may write in. Without this, a storage directory below a file or in a read-only place
 * passed the probe and only the first task found out.
 */
async function cannotCreate(dir: string): Promise<unknown | null> {
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    try {
      if (!(await fs.stat(parent)).isDirectory()) {
        return Object.assign(new Error(`ENOTDIR: ${dir} cannot be created: ${parent} is a file, not a directory`), { code: 'ENOTDIR' });
      }
      await fs.access(parent, fsConstants.W_OK);
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || parent === path.dirname(parent)) {
        return Object.assign(new Error(`${code ?? 'EUNKNOWN'}: ${dir} cannot be created: ${(err as Error).message}`), { code });
      }
    }
  }
}

/** Probes every target once and records the outcome under source `probe`. */
export async function probeStorage(targets: readonly ProbeTarget[], health: StorageHealth, databasePath: string): Promise<void> {
  const round: ProbeRound = new Map();
  for (const t of targets) {
    let failed = false;
    for (const dir of t.dirs) {
      const err = await probeDirectory(dir, round);
      if (err === null) continue;
      const info = storageFaultOf(err, databasePath) ?? {
        kind: 'disk' as const,
        path: dir,
        code: errorCode(err),
        message: (err as Error).message ?? String(err),
      };
      // A probe file is never a database error, whatever the directory.
      health.record(t.area, 'probe', { ...info, kind: 'disk' });
      failed = true;
      break;
    }
    if (!failed) health.clear(t.area, ['probe']);
  }
}

/**
 * Probes now and then every `everyMs` until stopped; a probe never overlaps the one before (the
 * next is scheduled when one ends). A probe that throws is logged and the next one runs anyway.
 */
export function startStorageProbe(
  targets: readonly ProbeTarget[],
  health: StorageHealth,
  o: { readonly databasePath: string; readonly everyMs: number; readonly log: Logger },
): { stop(): void } {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const run = async (): Promise<void> => {
    try {
      await probeStorage(targets, health, o.databasePath);
    } catch (err) {
      o.log.error({ err: (err as Error).message }, 'storage probe failed');
    }
    if (stopped) return;
    timer = setTimeout(() => void run(), o.everyMs);
    timer.unref();
  };
  void run();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
