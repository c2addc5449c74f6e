/**
 * Disk and database errors a runner thread sent over (it has no StorageHealth of its own), filed
 * under the /health area they belong to, and cleared when a later task proves the area works.
 */
import path from 'node:path';
import type { RepoServerConfig } from '../config/types.ts';
import type { StorageFaultInfo, StorageHealth } from './storage-faults.ts';

/** The source the runner's faults are recorded under, so that only a runner's success clears them. */
const SOURCE = 'runner';

/**
 * `database` for SQLite errors; `storage:<repo>` for a path under the task's repository's
 * `storage_dir`; `disk` for any other path (a temporary directory, the claude binary's).
 */
export function runnerFaultArea(repo: Pick<RepoServerConfig, 'storageDir'> | undefined, repoId: string, fault: StorageFaultInfo): string {
  if (fault.kind === 'database') return 'database';
  const underStorage = repo !== undefined && (fault.path === repo.storageDir || fault.path.startsWith(repo.storageDir + path.sep));
  return underStorage ? `storage:${repoId}` : 'disk';
}

/**
 * A task that got through its run (completed, timed out or cancelled: not failed) has written its
 * storage and the database, so the runner faults there are over.
 */
export function taskProvesStorage(status: string): boolean {
  return status === 'completed' || status === 'timeout' || status === 'cancelled';
}

export class RunnerFaults {
  constructor(
    private readonly health: StorageHealth,
    private repos: Readonly<Record<string, Pick<RepoServerConfig, 'storageDir'>>>,
  ) {}

  /** A configuration reload added or removed repositories. */
  setRepos(repos: Readonly<Record<string, Pick<RepoServerConfig, 'storageDir'>>>): void {
    this.repos = repos;
  }

  /** A runner thread hit a disk or database error: listed on /health under the right area. */
  record(repoId: string, fault: StorageFaultInfo): void {
    this.health.record(runnerFaultArea(this.repos[repoId], repoId, fault), SOURCE, fault);
  }

  /** A task of `repoId()` ended with `status`; the repo is looked up only when it matters. */
  taskFinished(status: string, repoId: () => string | undefined): void {
    if (!taskProvesStorage(status)) return;
    const id = repoId();
    if (id) this.health.clear(`storage:${id}`, [SOURCE]);
    this.health.clear('database', [SOURCE]);
  }
}
