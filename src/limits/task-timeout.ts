/**
 * One task's time limit: the repository's `.airut/airut.yaml` `timeout`, within the server's
 * `resource_limits.timeout` for the repository when the operator set one. The server's value is
 * then both the default (the file sets none) and the ceiling (a higher value in the file is
 * lowered): whoever can push to the repository must not be able to hold a container longer than
 * the operator allows. Without a server value the file alone decides (default 300 s), as before.
 */

export interface TaskTimeout {
  /** Seconds the agent may run. */
  readonly timeoutSeconds: number;
  /** The file's value when it was above the server's and so lowered (to be logged), else null. */
  readonly loweredRepoSeconds: number | null;
}

/**
 * `repoSeconds`: the file's `timeout`, null when the file does not set it; `fileDefault`: the
 * file's default (300) used when neither sets one.
 */
export function effectiveTaskTimeout(serverSeconds: number | null, repoSeconds: number | null, fileDefault: number): TaskTimeout {
  if (serverSeconds === null) return { timeoutSeconds: repoSeconds ?? fileDefault, loweredRepoSeconds: null };
  if (repoSeconds === null) return { timeoutSeconds: serverSeconds, loweredRepoSeconds: null };
  if (repoSeconds <= serverSeconds) return { timeoutSeconds: repoSeconds, loweredRepoSeconds: null };
  return { timeoutSeconds: serverSeconds, loweredRepoSeconds: repoSeconds };
}
