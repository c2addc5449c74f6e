/** What `airut status` prints, whichever source it read: repositories, listener states, running and queued tasks. */

export interface RepoLine {
  readonly id: string;
  /** Listener state (`idle`, `backoff`, ...); null when the daemon has not reported one. */
  readonly listener: string | null;
  readonly detail: string | null;
  readonly running: number;
  readonly queued: number;
}

export interface TaskLine {
  readonly id: number;
  readonly repoId: string;
  readonly status: string;
  readonly subject: string;
}

export interface StatusReport {
  /** Where the facts came from, as one sentence. */
  readonly source: string;
  /** What the pid file says about the daemon. */
  readonly daemon: string;
  readonly repos: readonly RepoLine[];
  /** Running tasks first, then queued ones. */
  readonly tasks: readonly TaskLine[];
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export function formatStatus(r: StatusReport): string {
  const repoRows = [
    ['REPOSITORY', 'LISTENER', 'RUNNING', 'QUEUED', 'DETAIL'],
    ...r.repos.map((x) => [x.id, x.listener ?? '-', String(x.running), String(x.queued), x.detail ?? '']),
  ];
  const tasks =
    r.tasks.length === 0
      ? 'no running or queued tasks\n'
      : table([['TASK', 'REPOSITORY', 'STATUS', 'SUBJECT'], ...r.tasks.map((t) => [String(t.id), t.repoId, t.status, t.subject])]);
  return `source: ${r.source}\ndaemon: ${r.daemon}\n\n${table(repoRows)}\n${tasks}`;
}
