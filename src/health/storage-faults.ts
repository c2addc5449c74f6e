/**
 * Disk and database errors, kept where /health can see them. Whoever catches an error hands it to
 * `StorageHealth.report`; if it is a storage fault (a SQLite I/O, full-disk or read-only error, or a
 * file-system error with a path) it is logged once with its path and listed as a health problem
 * until the same source sees the area work again (`clear`) or it has not recurred for `ttlMs`.
 *
 * Areas: `database` (the SQLite file) and `storage:<repo>` (a repository's `storage_dir`). Sources
 * say who saw the fault, so that a success only clears what it proves: a successful write clears
 * the `write` faults of the database but not what the directory probe found, and vice versa.
 */
import type { Logger } from '../log/logger.ts';

export type StorageFaultKind = 'database' | 'disk';

export interface StorageFaultInfo {
  readonly kind: StorageFaultKind;
  /** The file or directory concerned (the database file for SQLite errors). */
  readonly path: string;
  /** `SQLITE_IOERR_WRITE`, `ENOSPC`, `EACCES`, … */
  readonly code: string;
  readonly message: string;
}

export interface StorageFault extends StorageFaultInfo {
  readonly area: string;
  readonly source: string;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly count: number;
}

// Errors that say the disk or the file is the problem. SQLITE_BUSY (contention) and
// SQLITE_CONSTRAINT (a bug or a race) are not storage faults.
const SQLITE_STORAGE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PERM|NOLFS)/;
const ERRNO_STORAGE = new Set(['EACCES', 'EPERM', 'ENOSPC', 'EROFS', 'EIO', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG']);

/**
 * The storage fault an error stands for, looking through `cause` chains (errors are often wrapped
 * into a message for the sender), or null when it is something else.
 */
export function storageFaultOf(err: unknown, databasePath: string): StorageFaultInfo | null {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e !== null && typeof e === 'object'; depth++) {
    const o = e as { code?: unknown; path?: unknown; message?: unknown; cause?: unknown };
    const code = typeof o.code === 'string' ? o.code : '';
    const message = typeof o.message === 'string' ? o.message : String(e);
    if (SQLITE_STORAGE.test(code) || code === 'DATABASE_OPEN_FAILED') {
      return { kind: 'database', path: databasePath, code, message };
    }
    if (ERRNO_STORAGE.has(code) && typeof o.path === 'string') {
      return { kind: 'disk', path: o.path, code, message };
    }
    e = o.cause;
  }
  return null;
}

export interface StorageHealthOptions {
  readonly databasePath: string;
  readonly log: Logger;
  /** A fault not seen again for this long stops counting. Default 15 min. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export interface HealthProblemLike {
  readonly component: string;
  readonly message: string;
}

export class StorageHealth {
  readonly #faults = new Map<string, StorageFault>();
  readonly #opts: Required<StorageHealthOptions>;

  constructor(options: StorageHealthOptions) {
    this.#opts = { ttlMs: 15 * 60_000, now: Date.now, ...options };
  }

  /**
   * Records `err` if it is a storage fault. `area` is where it happened when the error itself does
   * not say (a disk error under a repo's storage); SQLite errors always count for `database`.
   * Returns the fault, or null when the error is something else.
   */
  report(err: unknown, source: string, area?: string): StorageFaultInfo | null {
    const info = storageFaultOf(err, this.#opts.databasePath);
    if (!info) return null;
    this.record(info.kind === 'database' ? 'database' : (area ?? 'disk'), source, info);
    return info;
  }

  /** Records a fault already classified (e.g. one a runner thread sent over). */
  record(area: string, source: string, info: StorageFaultInfo): void {
    const now = this.#opts.now();
    const key = `${area}\0${source}`;
    const prev = this.#faults.get(key);
    const fault: StorageFault = {
      ...info,
      area,
      source,
      firstAt: prev?.firstAt ?? now,
      lastAt: now,
      count: (prev?.count ?? 0) + 1,
    };
    this.#faults.set(key, fault);
    if (!prev || prev.path !== info.path || prev.code !== info.code) {
      this.#opts.log.error({ area, source, path: info.path, code: info.code, err: info.message }, `${info.kind === 'database' ? 'database' : 'disk'} error`);
    }
  }

  /** The area works again for these sources (all sources when none are given). */
  clear(area: string, sources?: readonly string[]): void {
    for (const [key, f] of this.#faults) {
      if (f.area !== area || (sources && !sources.includes(f.source))) continue;
      this.#faults.delete(key);
      this.#opts.log.info({ area, source: f.source, path: f.path, count: f.count }, 'storage works again');
    }
  }

  /** Current faults, oldest first; expired ones are dropped. */
  faults(): StorageFault[] {
    const now = this.#opts.now();
    for (const [key, f] of this.#faults) if (now - f.lastAt > this.#opts.ttlMs) this.#faults.delete(key);
    return [...this.#faults.values()].sort((a, b) => a.firstAt - b.firstAt);
  }

  /** For /health: one problem per fault. */
  problems(): HealthProblemLike[] {
    const now = this.#opts.now();
    return this.faults().map((f) => ({
      component: f.area,
      message: `${f.kind === 'database' ? 'database' : 'disk'} error (${f.source}): ${f.code} at ${f.path}: ${f.message}; ${f.count} time(s), last ${Math.round((now - f.lastAt) / 1000)} s ago`,
    }));
  }
}
