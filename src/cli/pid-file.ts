/**
 * The daemon's pid file, `airut.pid` beside the database: how `airut reload` finds the running
 * daemon. It holds the pid and the process's start time (from /proc), so a pid that the kernel
 * has since given to another process is recognised as stale rather than signalled.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AirutError } from '../errors.ts';
import { isProcessAlive } from '../os/process-alive.ts';

export const PID_FILE_NAME = 'airut.pid';

export type PidFileState =
  | { readonly kind: 'absent'; readonly file: string }
  | { readonly kind: 'stale'; readonly file: string; readonly pid: number | null; readonly reason: string }
  | { readonly kind: 'running'; readonly file: string; readonly pid: number };

export function pidFilePath(databasePath: string): string {
  return path.join(path.dirname(databasePath), PID_FILE_NAME);
}

/** Field 22 of /proc/PID/stat (clock ticks since boot); null where there is no /proc or no such process. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}


export function readPidFile(file: string): PidFileState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent', file };
    throw err;
  }
  const [pidText = '', started = ''] = text.trim().split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return { kind: 'stale', file, pid: null, reason: 'it does not hold a process id' };
  if (!isProcessAlive(pid)) return { kind: 'stale', file, pid, reason: `process ${pid} is not running` };
  const now = processStartTime(pid);
  if (now !== null && started !== '' && now !== started) {
    return { kind: 'stale', file, pid, reason: `process ${pid} is another program that got the same pid later` };
  }
  return { kind: 'running', file, pid };
}

/**
 * Refuses to start a second daemon on a database whose pid file names a live airut-ts: two daemons
 * on one database would both fetch and delete the same mail.
 */
export function assertNoOtherDaemon(databasePath: string): void {
  const state = readPidFile(pidFilePath(databasePath));
  if (state.kind === 'running' && state.pid !== process.pid) {
    throw new AirutError(
      'DAEMON_ALREADY_RUNNING',
      `another airut-ts (pid ${state.pid}) is running with the database ${databasePath} (pid file ${state.file}); stop it first, or point \`database:\` elsewhere`,
    );
  }
}

/** Writes this process's pid file; it is removed when the process exits, while it still names this process. */
export function writePidFile(databasePath: string): string {
  const file = pidFilePath(databasePath);
  const content = `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`;
  fs.writeFileSync(file, content, { mode: 0o644 });
  process.once('exit', () => {
    try {
      if (fs.readFileSync(file, 'utf8') === content) fs.unlinkSync(file);
    } catch {
      /* already gone */
    }
  });
  return file;
}
