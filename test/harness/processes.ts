/**
 * What runs on this host, read from /proc (Linux): the tests that kill a daemon or a `run` mid-start
 * look for the container runtime's helpers left behind.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Processes whose command line matches, as pid → argv. */
export function processes(match: (argv: string[]) => boolean): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (match(argv)) out.set(Number(pid), argv);
    } catch {
      /* exited */
    }
  }
  return out;
}

export function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

/** podman's `conmon`s of containers named `prefix…`, and the `runc init`s below them. */
export function podmanHelpers(prefix: string): { conmon: number[]; runcInit: number[] } {
  const conmon = [...processes((a) => a[0]?.endsWith('conmon') === true && (a[a.indexOf('-n') + 1] ?? '').startsWith(prefix)).keys()];
  const runcInit = [...processes((a) => a.join(' ').startsWith('/usr/bin/runc init') || a.join(' ') === 'runc init').keys()].filter((p) =>
    conmon.includes(parentOf(p)),
  );
  return { conmon, runcInit };
}

/** containerd shims of the given container ids (Docker). */
export function dockerShims(ids: ReadonlySet<string>): number[] {
  return [...processes((a) => (a[0] ?? '').includes('containerd-shim') && ids.has(a[a.indexOf('-id') + 1] ?? '')).keys()];
}

/** Whether a process with this id exists (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
