/**
 * Mutual exclusion for work on one mirror, at two levels:
 *
 *  - an in-process async mutex keyed by path, so callers in one thread queue up in order without
 *    polling the file system;
 *  - a lock file created with O_EXCL, which excludes other worker threads (each has its own module
 *    state, so the mutex above does not reach them) and other daemons sharing the storage.
 *
 * The file holds the owner's pid, host and a random token. While held, its mtime is refreshed
 * (heartbeat). A lock is stale — and may be broken — when its owner process on this host is gone,
 * or when its heartbeat stopped (a terminated worker thread leaves its process alive, so the pid
 * alone cannot tell). Breaking is itself guarded by a second O_EXCL file, so two waiters can't both
 * break the lock and then both believe they hold it.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';
import { AirutError } from '../errors.ts';
import { isProcessAlive } from '../os/process-alive.ts';

const mutexTails = new Map<string, Promise<void>>();

/** Runs `fn` after every earlier `withMutex(key, …)` of this thread has finished. */
export async function withMutex<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = mutexTails.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = previous.then(() => mine);
  mutexTails.set(key, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (mutexTails.get(key) === tail) mutexTails.delete(key);
  }
}

export interface FileLockOptions {
  /** A heartbeat older than this marks the lock stale. */
  readonly staleMs?: number;
  /** Give up waiting after this long. */
  readonly waitTimeoutMs?: number;
  /** Poll interval while waiting (a little jitter is added). */
  readonly pollMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  threadId: number;
  token: string;
  since: string;
}

const DEFAULT_STALE_MS = 60_000;
const DEFAULT_WAIT_MS = 30 * 60_000;
const DEFAULT_POLL_MS = 100;


async function readOwner(path: string): Promise<{ owner: LockOwner | null; mtimeMs: number } | null> {
  try {
    const [text, st] = await Promise.all([fs.readFile(path, 'utf8'), fs.stat(path)]);
    let owner: LockOwner | null = null;
    try {
      owner = JSON.parse(text) as LockOwner;
    } catch {
      owner = null; // being written right now, or garbage; judged by its age alone
    }
    return { owner, mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function isStale(info: { owner: LockOwner | null; mtimeMs: number }, staleMs: number): boolean {
  if (Date.now() - info.mtimeMs > staleMs) return true;
  const o = info.owner;
  if (o && o.host === hostname() && typeof o.pid === 'number' && o.pid !== process.pid) return !isProcessAlive(o.pid);
  return false;
}

async function tryCreate(path: string, owner: LockOwner): Promise<boolean> {
  try {
    await fs.writeFile(path, JSON.stringify(owner) + '\n', { flag: 'wx', mode: 0o644 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Removes `path` if it is still the same stale lock we judged, guarded against concurrent breakers. */
async function breakStale(path: string, judged: { owner: LockOwner | null; mtimeMs: number }, staleMs: number): Promise<void> {
  const guard = `${path}.break`;
  const guardOwner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    threadId,
    token: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
  };
  if (!(await tryCreate(guard, guardOwner))) {
    // Someone else is breaking it. A guard left by a breaker that died is removed after a while.
    const g = await readOwner(guard);
    if (g && Date.now() - g.mtimeMs > Math.min(staleMs, 10_000)) await fs.rm(guard, { force: true });
    return;
  }
  try {
    const now = await readOwner(path);
    if (!now) return;
    const same =
      now.mtimeMs === judged.mtimeMs && (now.owner?.token ?? null) === (judged.owner?.token ?? null);
    if (same && isStale(now, staleMs)) await fs.rm(path, { force: true });
  } finally {
    await fs.rm(guard, { force: true });
  }
}

/** Holds the lock file at `path` while `fn` runs. Waits (polling) while another owner holds it. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const waitMs = opts.waitTimeoutMs ?? DEFAULT_WAIT_MS;
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    threadId,
    token: randomBytes(12).toString('hex'),
    since: new Date().toISOString(),
  };
  const started = Date.now();
  for (;;) {
    if (await tryCreate(path, owner)) break;
    const info = await readOwner(path);
    if (info && isStale(info, staleMs)) {
      await breakStale(path, info, staleMs);
      continue;
    }
    if (Date.now() - started > waitMs) {
      const who = info?.owner ? ` (held by pid ${info.owner.pid} on ${info.owner.host} since ${info.owner.since})` : '';
      throw new AirutError('GIT_LOCK_TIMEOUT', `timed out after ${Math.round(waitMs / 1000)} s waiting for lock ${path}${who}`);
    }
    await new Promise((r) => setTimeout(r, pollMs + Math.floor(Math.random() * pollMs)));
  }

  const heartbeat = setInterval(() => {
    const t = new Date();
    fs.utimes(path, t, t).catch(() => undefined);
  }, Math.max(50, Math.floor(staleMs / 4)));
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    // Remove only our own lock: if it was (wrongly) broken and re-taken, the file is someone else's.
    const info = await readOwner(path).catch(() => null);
    if (info?.owner?.token === owner.token) await fs.rm(path, { force: true });
  }
}
