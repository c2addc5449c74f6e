/**
 * A repository's storage directory (git mirror and conversations): writable by this user, or
 * creatable, on a file system with room for clones. Nothing is created here.
 */
import { accessSync, constants, existsSync, statSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { RepoServerConfig } from '../config/types.ts';
import { fail, ok, warn, type CheckResult, type DoctorCheck } from './types.ts';

/** Below this, a few clones and their build contexts may not fit. */
const LOW_SPACE_BYTES = 1024 ** 3;

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

export function checkStorage(repo: RepoServerConfig): CheckResult {
  const name = `${repo.repoId}: storage`;
  const dir = repo.storageDir;
  const uid = process.getuid?.() ?? 0;
  let existing = dir;
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  if (!statSync(existing).isDirectory()) {
    return fail(name, `${existing} is not a directory`, `set repos.${repo.repoId}.storage_dir to a directory path`);
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch {
    return fail(
      name,
      `${existing} is not writable by uid ${uid}`,
      `give the user that runs the daemon write access to ${dir === existing ? dir : `${existing} (or create ${dir} for it)`}, and run the doctor as that user`,
    );
  }
  const free = (() => {
    try {
      const s = statfsSync(existing);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  })();
  const where = dir === existing ? `${dir} is writable` : `${dir} will be created (in ${existing})`;
  if (free !== null && free < LOW_SPACE_BYTES) {
    return warn(name, `${where}; only ${gib(free)} free`, 'free disk space there: every conversation holds a clone of the repository');
  }
  return ok(name, `${where}${free !== null ? `, ${gib(free)} free` : ''}`);
}

export function storageCheck(repo: RepoServerConfig): DoctorCheck {
  return { name: `${repo.repoId}: storage`, timeoutFix: 'the file system may be hanging (a stale network mount?)', run: async () => checkStorage(repo) };
}
