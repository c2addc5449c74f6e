/**
 * File-system paths written in the configuration: `~` means the home directory, and a relative
 * path is relative to the directory of the config file (not the daemon's working directory, which
 * a process manager may set to anything). The result is absolute and normalised, so two spellings
 * of one directory (`~/x`, `/root/x/`, `/root/y/../x`) compare equal.
 */
import { homedir } from 'node:os';
import path from 'node:path';

export function expandPath(value: string, baseDir: string): string {
  let p = value.trim();
  if (p === '~') p = homedir();
  else if (p.startsWith('~/')) p = path.join(homedir(), p.slice(2));
  return path.resolve(baseDir, p);
}

/** True when `inner` is `outer` itself or lies below it. Both must be absolute and normalised. */
export function isSameOrInside(inner: string, outer: string): boolean {
  if (inner === outer) return true;
  const rel = path.relative(outer, inner);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
