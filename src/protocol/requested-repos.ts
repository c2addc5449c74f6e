/**
 * The companion repositories a task asks for, beside its primary one (the repository whose inbox
 * or API call it came in by): named in mail by a `Repos:` line (read by the runner from the body),
 * by the API in `repositories` (recorded with the task).
 * Whether each may be used (listed in the primary's `companions`, sender or token authorized for
 * it) is decided where the task is recorded, not here. Structured-cloneable (crosses threads).
 */
export type RepoAccess = 'read' | 'write';

export interface RequestedRepo {
  /** A repository id of this daemon; also the mount name, `/repos/<name>`. */
  readonly name: string;
  /** The branch to clone; default: the companion's default branch. */
  readonly branch?: string;
  /** Default: the access the primary's `companions` gives it. */
  readonly access?: RepoAccess;
}
