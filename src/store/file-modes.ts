/**
 * The database file holds every raw mail and all task output, so only the daemon's user may read
 * it: the file and its `-wal`/`-shm`/`-journal` companions are 0600, the directory 0700.
 *
 * Decision: create the main file ourselves with mode 0600 before SQLite opens it, rather than set
 * a process-wide umask. SQLite creates a new database 0644 (less the umask), and creates `-wal`,
 * `-shm` and `-journal` with the main file's mode, so a private main file is enough to make all of
 * them private. A global umask would also change every file the daemon writes for the container
 * (workspaces, inbox files the agent must read), which is not ours to decide here. The other files
 * under the database directory are written with their own modes (`sandbox/` 0700, the CA key
 * 0600), and the directory itself is 0700.
 *
 * An existing directory is tightened only when it is airut's own (every entry in it is the
 * database, its companions, the sandbox state, or holds a repository's storage_dir, as in the
 * /var/lib/airut layout of docs/deployment.md): `database: /var/lib/airut.db` must not make
 * /var/lib private, nor `/tmp/airut.db` make /tmp unusable. Anything else is reported, not changed.
 */
import fs from 'node:fs';
import path from 'node:path';

export const DATABASE_FILE_MODE = 0o600;
export const DATABASE_DIR_MODE = 0o700;
/** Files SQLite keeps next to the database; they hold the same data. */
export const DATABASE_COMPANIONS = ['-wal', '-shm', '-journal'] as const;
/** Entries the daemon itself puts next to the database (see sandboxStateDir, probeDirectory). */
// airut.pid: the running daemon's pid file (src/cli/pid-file.ts).
const OWN_ENTRIES = new Set(['sandbox', 'airut.pid']);
const PROBE_PREFIX = '.airut-write-probe-';

/** A mode that was changed, or one that should be and was left alone (with why). */
export interface ModeFinding {
  readonly path: string;
  readonly from: string;
  readonly to: string;
  readonly changed: boolean;
  readonly reason?: string;
}

const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(4, '0');
const GROUP_OTHER = 0o077;
/** The sticky bit: a directory like /tmp that many users write to. */
const STICKY = 0o1000;

/**
 * Makes the database directory and files private before SQLite opens them; returns what it found
 * and changed, for the caller to log. Throws the file system's error (the caller wraps it).
 */
export function secureDatabaseFiles(file: string, ownPaths: readonly string[] = []): ModeFinding[] {
  const findings: ModeFinding[] = [];
  secureDirectory(path.dirname(file), path.basename(file), ownPaths, findings);
  // 'a' creates the file when it is missing and never truncates one another process just made.
  fs.closeSync(fs.openSync(file, 'a', DATABASE_FILE_MODE));
  for (const f of [file, ...DATABASE_COMPANIONS.map((s) => file + s)]) tightenFile(f, findings);
  return findings;
}

function secureDirectory(dir: string, dbName: string, ownPaths: readonly string[], findings: ModeFinding[]): void {
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true, mode: DATABASE_DIR_MODE });
    // mkdir's mode passes through the umask; set it exactly (a umask of 0277 would leave 0500).
    fs.chmodSync(dir, DATABASE_DIR_MODE);
    return;
  }
  const st = fs.statSync(dir);
  if ((st.mode & GROUP_OTHER) === 0) return;
  const to = st.mode & 0o777 & ~GROUP_OTHER;
  const foreign = foreignEntries(dir, dbName, ownPaths);
  const uid = process.getuid?.();
  if (foreign.length > 0 || (uid !== undefined && st.uid !== uid) || (st.mode & STICKY) !== 0) {
    const why = foreign.length > 0 ? `it also holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}` : 'it is shared or owned by another user';
    findings.push({ path: dir, from: octal(st.mode), to: octal(to), changed: false, reason: `left as it is: ${why}` });
    return;
  }
  fs.chmodSync(dir, to);
  findings.push({ path: dir, from: octal(st.mode), to: octal(to), changed: true });
}

/** Entries of `dir` that airut did not put there. */
function foreignEntries(dir: string, dbName: string, ownPaths: readonly string[]): string[] {
  const own = new Set([dbName, ...DATABASE_COMPANIONS.map((s) => dbName + s)]);
  const holdsOwnPath = (entry: string): boolean => ownPaths.some((p) => isSameOrInside(path.resolve(p), entry));
  return fs
    .readdirSync(dir)
    .filter((name) => !own.has(name) && !OWN_ENTRIES.has(name) && !name.startsWith(PROBE_PREFIX) && !holdsOwnPath(path.join(dir, name)));
}

function isSameOrInside(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function tightenFile(file: string, findings: ModeFinding[]): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if ((st.mode & GROUP_OTHER) === 0) return;
  const to = st.mode & 0o777 & ~GROUP_OTHER;
  fs.chmodSync(file, to);
  findings.push({ path: file, from: octal(st.mode), to: octal(to), changed: true });
}
