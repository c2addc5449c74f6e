/**
 * The processes below a process, read from /proc (Linux). Used to stop an image build cleanly:
 * `podman build` runs each RUN step as its own process tree; killing that tree makes the step fail,
 * and podman then removes its working container as for any failed build. Killing podman itself
 * instead leaves the working container behind in storage (podman issues #14523, #20733).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Parent pid of each process, from /proc/<pid>/stat (field 4, after the parenthesised name). */
function parentMap(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return children; // not Linux: no tree, callers fall back to signalling the process itself
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The name may contain spaces and parentheses; the fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    if (!Number.isInteger(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  return children;
}

/** The processes whose parent is `pid`. */
export function childPids(pid: number): number[] {
  return parentMap().get(pid) ?? [];
}

/** Every descendant of `pid`, deepest first. */
export function descendantPids(pid: number): number[] {
  const children = parentMap();
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      walk(c);
      out.push(c);
    }
  };
  walk(pid);
  return out;
}

/** Sends `signal` to every descendant of `pid` (not to `pid`); returns how many were signalled. */
export function signalDescendants(pid: number, signal: NodeJS.Signals): number {
  let n = 0;
  for (const d of descendantPids(pid)) {
    try {
      process.kill(d, signal);
      n++;
    } catch {
      /* already gone */
    }
  }
  return n;
}
