/**
 * Makes a file or directory refuse writes, even from root, with the `immutable` attribute (chattr +i):
 * how tests produce real EPERM / SQLITE_IOERR errors on a path the daemon writes to. Needs root and a
 * file system with attributes (ext4, xfs, btrfs); `immutableSupported()` says whether this machine has them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function setImmutable(target: string, on: boolean): void {
  // stderr piped: the error (e.g. a file that is gone) is thrown, not printed.
  execFileSync('chattr', [on ? '+i' : '-i', target], { stdio: ['ignore', 'pipe', 'pipe'] });
}

let supported: boolean | null = null;

/** Whether chattr +i works under the temp dir and stops root from writing. */
export function immutableSupported(): boolean {
  if (supported !== null) return supported;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-immutable-'));
  const file = path.join(dir, 'f');
  fs.writeFileSync(file, 'x');
  try {
    setImmutable(file, true);
    try {
      fs.appendFileSync(file, 'y');
      supported = false;
    } catch {
      supported = true;
    }
  } catch {
    supported = false;
  } finally {
    try {
      setImmutable(file, false);
    } catch {
      /* never set */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return supported;
}

/** Runs `fn` with `target` immutable, and always makes it writable again. */
export async function whileImmutable<T>(target: string, fn: () => Promise<T> | T): Promise<T> {
  setImmutable(target, true);
  try {
    return await fn();
  } finally {
    setImmutable(target, false);
  }
}
