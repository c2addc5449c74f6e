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
 * Writes, syncs and removes a small file in `dir`. A directory that does not exist yet passes when
 * it can be made on first use (see cannotCreate); the error of a failed write is returned.
 */
export async function probeDirectory(dir: string): Promise<unknown | null> {
  try {
    await fs.access(dir);
  } catch {
    return cannotCreate(dir);
  }
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
  for (const t of targets) {
    let failed = false;
    for (const dir of t.dirs) {
      const err = await probeDirectory(dir);
      if (err === null) continue;
      const info = storageFaultOf(err, databasePath) ?? {
        kind: 'disk' as const,
        path: dir,
        code: String((err as { code?: unknown }).code ?? 'EUNKNOWN'),
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
