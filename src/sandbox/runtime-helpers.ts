/**
 * podman's own helper processes that a crash can orphan for good.
 *
 * `podman run` creates the container in its database, then starts `conmon`, which runs `runc create`;
 * `runc init` then waits inside the new namespaces until podman says "start". conmon detaches into
 * its own session, so a SIGKILL to the daemon's process group does not reach it. When podman is
 * killed in that window (reproduced with podman 4.3 + runc: about one start in ten killed between
 * 0.15 and 0.45 s), `podman rm -f` later removes the container from podman's database and storage
 * but not the two processes: they wait forever for a container podman no longer lists.
 *
 * They are found from /proc: a `conmon` of our uid names its container's id (`-c`), name (`-n`) and
 * OCI runtime (`-r`). Which daemon it belongs to comes from runc's state file, which holds the OCI
 * annotations: podman task and sidecar containers carry their labels as annotations too
 * (ContainerRuntime.labelArgs), so the reaper applies the same label filter to a helper as to a
 * listed container. A helper is ended only when its container is not listed by podman and its
 * annotations say it is ours; ending means `runc delete --force` (kills `runc init`, drops runc's
 * state), then SIGKILL to conmon and anything left below it.
 *
 * Docker has no such leftover: dockerd, not the CLI, creates and starts containers, and containerd's
 * shim belongs to a container dockerd lists until it is removed. Killing `docker run` mid-start
 * leaves a `Created` or running container, which is reaped by its labels like any other.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { descendantPids } from './process-tree.ts';

/** A conmon whose container may be gone, with what its command line and runc's state tell. */
export interface RuntimeHelper {
  /** conmon's pid. */
  readonly pid: number;
  readonly containerId: string;
  readonly name: string;
  /** The OCI runtime binary (`-r`) and its state root. */
  readonly ociRuntime: string;
  readonly ociRoot: string;
  /** The container's OCI annotations (our labels among them); empty when runc's state is gone. */
  readonly annotations: Readonly<Record<string, string>>;
}

/** The value after `flag` in an argv (`-c <id>`), or undefined. */
function argAfter(argv: readonly string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** runc's state root: `--runtime-arg --root=<dir>` when podman passed one, else runc's default. */
function ociRootOf(argv: readonly string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i] === '--runtime-arg' ? argv[i + 1] : undefined;
    if (v?.startsWith('--root=')) return v.slice('--root='.length);
    if (v === '--root' && argv[i + 2] === '--runtime-arg' && argv[i + 3]) return argv[i + 3]!;
  }
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? '/run/runc' : path.join(process.env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`, 'runc');
}

/** The annotations runc recorded for a container (`config.labels`, `key=value`). */
function annotationsOf(ociRoot: string, containerId: string): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const state = JSON.parse(readFileSync(path.join(ociRoot, containerId, 'state.json'), 'utf8')) as { config?: { labels?: unknown } };
    const labels = Array.isArray(state.config?.labels) ? (state.config.labels as unknown[]) : [];
    for (const l of labels) {
      if (typeof l !== 'string') continue;
      const i = l.indexOf('=');
      if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
    }
  } catch {
    // No state: runc never got far, or it is gone. Without annotations nothing proves it is ours.
  }
  return out;
}

/** What a conmon command line says about its container; null when it names none. */
export function parseConmonArgs(argv: readonly string[]): { containerId: string; name: string; ociRuntime: string; ociRoot: string } | null {
  const containerId = argAfter(argv, '-c');
  if (!containerId || !/^[0-9a-f]{12,64}$/.test(containerId)) return null;
  return { containerId, name: argAfter(argv, '-n') ?? '', ociRuntime: argAfter(argv, '-r') ?? 'runc', ociRoot: ociRootOf(argv) };
}

function processOfOurs(pid: string): string[] | null {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'conmon') return null;
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (uid === undefined || Number(uid) !== (process.getuid?.() ?? 0)) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null; // exited meanwhile
  }
}

/** Every conmon of this user, with its container's annotations (Linux; none elsewhere). */
export function findRuntimeHelpers(): RuntimeHelper[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const helpers: RuntimeHelper[] = [];
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = processOfOurs(pid);
    const parsed = argv && parseConmonArgs(argv);
    if (!parsed) continue;
    helpers.push({ pid: Number(pid), ...parsed, annotations: annotationsOf(parsed.ociRoot, parsed.containerId) });
  }
  return helpers;
}

/** Ends a helper: `runc delete --force` (its `runc init` and runc's state), then conmon and what is left below it. */
export async function endRuntimeHelper(helper: RuntimeHelper): Promise<void> {
  await new Promise<void>((resolve) => {
    execFile(helper.ociRuntime, ['--root', helper.ociRoot, 'delete', '--force', helper.containerId], { timeout: 10_000 }, () => resolve());
  });
  for (const pid of [...descendantPids(helper.pid), helper.pid]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Makes a container podman shows as `created` removable after a kill mid-start: ends its helpers
 * (if conmon got that far) and unmounts its `/dev/shm` (if podman mounted it but died before it
 * recorded the mount, `rm` later fails with "unlinkat …/userdata/shm: device or resource busy").
 * Unmounting needs the mount's namespace and rights: a rootful daemon has both; elsewhere it is skipped.
 */
export async function releaseHalfStarted(containerId: string, helpers: readonly RuntimeHelper[]): Promise<void> {
  await Promise.all(helpers.filter((h) => h.containerId === containerId).map(endRuntimeHelper));
  for (const target of shmMountsOf(containerId)) {
    await new Promise<void>((resolve) => execFile('umount', [target], { timeout: 10_000 }, () => resolve()));
  }
}

/** Mount points `…/<id>/userdata/shm` in this process's mount namespace. */
function shmMountsOf(containerId: string): string[] {
  if (!/^[0-9a-f]{64}$/.test(containerId)) return [];
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  // Field 5 is the mount point (spaces escaped as \040, which a storage path does not contain).
  return text
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint.endsWith(`/${containerId}/userdata/shm`));
}
