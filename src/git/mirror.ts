/**
 * The per-repository git mirror at `storage_dir/git-mirror/`: a bare `git clone --mirror` of the
 * repository, shared by all conversations of that repository. Repository-side settings
 * (`.airut/airut.yaml`, `.airut/container/`, `.airut/network-allowlist.yaml`) are read from its
 * default branch, and new workspaces are cloned from it, so the network is touched once per update.
 *
 * Creating and updating the mirror run under a lock (per thread, and a lock file across threads and
 * processes): task runners live in worker threads and each may construct its own GitMirror for the
 * same path. Reads and workspace clones take no lock: a fetch writes objects before it moves refs,
 * so a reader always sees a consistent commit.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AirutError, type ErrorCode } from '../errors.ts';
import { withFileLock, withMutex, type FileLockOptions } from './lock.ts';
import { BoundedCache } from './object-cache.ts';
import { credentialsOf, redact } from './redact.ts';
import { runGit, stderrTail, type GitRunOptions, type GitRunResult } from './run.ts';
import { publicRepoUrl } from './url.ts';
import { scrubWorkspaceConfig } from './workspace-scrub.ts';

/** One file of a directory on the default branch. */
export interface TreeFile {
  /** Relative to the directory that was read, `/`-separated (e.g. `Dockerfile`, `scripts/setup.sh`). */
  readonly path: string;
  readonly content: Buffer;
  /** Git file mode: `100644` (regular) or `100755` (executable). */
  readonly mode: '100644' | '100755';
}

export interface UpdateOptions {
  /** A fetch that started at most this many milliseconds before the request is taken as this one; default 0. */
  readonly freshForMs?: number;
}

export interface GitMirrorOptions {
  /** Limit for network operations (clone --mirror, fetch). Default 15 minutes. */
  readonly networkTimeoutMs?: number;
  /** Lock file tuning; tests shorten these. */
  readonly lock?: FileLockOptions;
}

interface TreeEntry {
  readonly mode: string;
  readonly type: string;
  readonly oid: string;
  readonly path: string;
}

// Per thread, shared by every GitMirror of that thread (a task constructs its own): see object-cache.ts.
const treeCache = new BoundedCache<readonly TreeEntry[]>(1024, 8 * 1024 * 1024, (t) => 64 + t.reduce((n, e) => n + 96 + e.path.length * 2, 0));
const blobCache = new BoundedCache<Buffer>(1024, 32 * 1024 * 1024, (b) => 64 + b.length);
/**
 * The default branch and its commit per mirror directory, valid while the mirror's fetch stamp and
 * HEAD file read the same: every fetch or clone rewrites the stamp after moving refs, and a changed
 * default branch rewrites HEAD, so a moved branch is always seen by the next read.
 */
const heads = new Map<string, { readonly key: string; readonly branch: string; readonly commit: string | null }>();

const DEFAULT_NETWORK_TIMEOUT_MS = 15 * 60_000;
const LOCAL_TIMEOUT_MS = 5 * 60_000;

/** Like Promise.all, but waits for every promise to settle before rejecting with the first failure. */
async function allOrFirstError<T extends readonly unknown[]>(promises: { readonly [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** The repository-relative path as git wants it: `/`-separated, no leading `./` or `/`, no `..`. */
function normaliseRepoPath(p: string, what: string): string {
  const parts = p.split(/[\\/]+/).filter((s) => s.length > 0 && s !== '.');
  if (parts.some((s) => s === '..') || p.includes('\0')) {
    throw new AirutError('GIT_PATH_INVALID', `${what} ${JSON.stringify(p)} must be a path inside the repository`);
  }
  return parts.join('/');
}

export class GitMirror {
  readonly storageDir: string;
  /** `storage_dir/git-mirror`. */
  readonly mirrorDir: string;
  readonly lockPath: string;
  private readonly repoUrl: string;
  /** The URL without credentials: the only form written to disk (see url.ts). */
  readonly publicUrl: string;
  private readonly secrets: readonly string[];
  private readonly networkTimeoutMs: number;
  private readonly lockOptions: FileLockOptions;
  /** Written at the start of each successful fetch; lets waiting callers skip a redundant fetch. */
  private readonly stampPath: string;

  constructor(storageDir: string, repoUrl: string, options: GitMirrorOptions = {}) {
    if (!repoUrl) throw new AirutError('GIT_URL_INVALID', 'git repository URL is empty');
    // An argument starting with "-" would be read by git as an option.
    if (repoUrl.startsWith('-')) throw new AirutError('GIT_URL_INVALID', `git repository URL must not start with "-"`);
    this.storageDir = path.resolve(storageDir);
    this.mirrorDir = path.join(this.storageDir, 'git-mirror');
    this.lockPath = path.join(this.storageDir, 'git-mirror.lock');
    this.stampPath = path.join(this.storageDir, 'git-mirror.fetched');
    this.repoUrl = repoUrl;
    this.publicUrl = publicRepoUrl(repoUrl);
    this.secrets = credentialsOf(repoUrl);
    this.networkTimeoutMs = options.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS;
    this.lockOptions = options.lock ?? {};
  }

  /** The repository URL with any credentials replaced by `***` — safe for logs and messages. */
  get displayUrl(): string {
    return redact(this.repoUrl, this.secrets);
  }

  /** Text safe to show: URL credentials and the token itself removed. */
  private clean(text: string): string {
    return redact(text, this.secrets);
  }

  private fail(code: ErrorCode, what: string, r: GitRunResult): AirutError {
    const why = r.timedOut
      ? 'git did not finish in time and was stopped'
      : r.overflow
        ? 'git produced more output than allowed'
        : stderrTail(r.stderr) || `git exited with ${r.code ?? r.signal}`;
    return new AirutError(code, this.clean(`${what}: ${why}`));
  }

  private async git(args: readonly string[], opts: GitRunOptions = {}): Promise<GitRunResult> {
    try {
      return await runGit(args, opts);
    } catch (e) {
      const msg = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the git program was not found on PATH' : String(e);
      throw new AirutError('GIT_UNAVAILABLE', this.clean(`cannot run git: ${msg}`));
    }
  }

  private async mirrorExists(): Promise<boolean> {
    try {
      await fs.access(path.join(this.mirrorDir, 'HEAD'));
      return true;
    } catch {
      return false;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return withMutex(this.lockPath, async () => {
      await fs.mkdir(this.storageDir, { recursive: true });
      return withFileLock(this.lockPath, fn, this.lockOptions);
    });
  }

  /**
   * Clones into a temporary directory and renames it into place, so a crash mid-clone never leaves a
   * half-made mirror that later calls would take for a real one. Caller holds the lock.
   */
  private async cloneMirror(): Promise<void> {
    const tmp = path.join(this.storageDir, `git-mirror.tmp-${randomBytes(4).toString('hex')}`);
    try {
      const r = await this.git(['clone', '--mirror', '--quiet', '--', this.repoUrl, tmp], {
        timeoutMs: this.networkTimeoutMs,
      });
      if (r.code !== 0) throw this.fail('GIT_CLONE_FAILED', `git clone --mirror of ${this.displayUrl} failed`, r);
      await this.forgetCredentials(tmp);
      // A leftover from an earlier crash between clone and rename would make rename fail.
      await fs.rm(this.mirrorDir, { recursive: true, force: true });
      await fs.rename(tmp, this.mirrorDir);
      await fs.writeFile(this.stampPath, String(Date.now()));
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }

  /** Creates the mirror if it does not exist yet (a full clone from the network). */
  async ensure(): Promise<void> {
    if (await this.mirrorExists()) return;
    await this.exclusive(async () => {
      if (!(await this.mirrorExists())) await this.cloneMirror();
    });
  }

  /**
   * Brings the mirror up to date with the repository (creating it on first use). Concurrent callers
   * — in this thread, other threads or other processes — run one at a time; a caller that waited
   * while another fetch started after its own request returns without fetching again.
   *
   * `freshForMs`: a fetch that started less than this long before the request counts as this one
   * (the caller accepts the view of the repository it gave); 0, the default, always fetches unless
   * a fetch started after the request.
   */
  async update(options: UpdateOptions = {}): Promise<void> {
    const requestedAt = Date.now();
    const acceptFrom = requestedAt - Math.max(0, options.freshForMs ?? 0);
    await this.exclusive(async () => {
      if (!(await this.mirrorExists())) {
        await this.cloneMirror();
        return;
      }
      const last = Number(await fs.readFile(this.stampPath, 'utf8').catch(() => '0'));
      if (Number.isFinite(last) && (last > requestedAt || (acceptFrom < requestedAt && last >= acceptFrom))) return;

      const startedAt = Date.now();
      // The URL is passed on every fetch so that a changed repo_url (or rotated token in it) takes
      // effect without rebuilding the mirror, and it never has to be written to the mirror's config.
      // The remote's default branch and the config check go alongside: none of the three writes what
      // another reads, and each is a process (the first two a round trip to the remote) on every task.
      // All settled before going on: nothing may still run on the mirror once the lock is let go.
      const [r, remoteHead] = await allOrFirstError([
        this.git(['-C', this.mirrorDir, 'fetch', '--prune', '--quiet', '--', this.repoUrl, '+refs/*:refs/*'], { timeoutMs: this.networkTimeoutMs }),
        this.remoteHead(),
        this.forgetCredentials(this.mirrorDir),
      ] as const);
      if (r.code !== 0) throw this.fail('GIT_FETCH_FAILED', `git fetch of ${this.displayUrl} failed`, r);
      await this.followRemoteHead(remoteHead);
      await fs.writeFile(this.stampPath, String(startedAt));
    });
  }

  /**
   * `clone --mirror` writes the URL it was given (token included) into the mirror's config; keep
   * only the public URL there. Fetches pass the real URL each time, so nothing needs the stored one.
   * Also run on every update, which cleans mirrors made before this rule.
   */
  private async forgetCredentials(dir: string): Promise<void> {
    const cur = await this.git(['-C', dir, 'config', '--get', 'remote.origin.url'], { timeoutMs: LOCAL_TIMEOUT_MS });
    if (cur.code === 0 && cur.stdout.toString('utf8').trim() === this.publicUrl) return;
    const r = await this.git(['-C', dir, 'config', 'remote.origin.url', this.publicUrl], { timeoutMs: LOCAL_TIMEOUT_MS });
    if (r.code !== 0) throw this.fail('GIT_CONFIG_FAILED', `cannot store the public URL of ${this.displayUrl} in the mirror`, r);
  }

  /** The remote's default branch (`refs/heads/…`), or null when it cannot be told. Rejects only when git is missing. */
  private async remoteHead(): Promise<string | null> {
    const r = await this.git(['-C', this.mirrorDir, 'ls-remote', '--symref', '--', this.repoUrl, 'HEAD'], {
      timeoutMs: this.networkTimeoutMs,
    });
    if (r.code !== 0) return null;
    return /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(r.stdout.toString('utf8'))?.[1] ?? null;
  }

  /**
   * A fetch doesn't move the mirror's HEAD; follow the remote if its default branch changed (and the
   * fetch brought that branch). Unknown (null): the fetch worked, keep the known default branch.
   */
  private async followRemoteHead(ref: string | null): Promise<void> {
    if (ref === null) return;
    const current = await fs.readFile(path.join(this.mirrorDir, 'HEAD'), 'utf8').catch(() => '');
    if (current.trim() === `ref: ${ref}`) return;
    const exists = await this.git(['-C', this.mirrorDir, 'show-ref', '--verify', '--quiet', ref]);
    if (exists.code === 0) await this.git(['-C', this.mirrorDir, 'symbolic-ref', 'HEAD', ref]);
  }

  /** What must stay the same for a remembered default branch and commit to still be true. */
  private async headKey(): Promise<string> {
    const [stamp, head] = await Promise.all([
      fs.readFile(this.stampPath, 'utf8').catch(() => ''),
      fs.readFile(path.join(this.mirrorDir, 'HEAD'), 'utf8').catch(() => ''),
    ]);
    return `${stamp}\0${head}`;
  }

  /** The default branch of the repository (e.g. `main`), from the mirror's HEAD. */
  async defaultBranch(): Promise<string> {
    await this.ensure();
    // The key is read before git: a fetch finishing in between leaves a key that no longer matches.
    const key = await this.headKey();
    const known = heads.get(this.mirrorDir);
    if (known?.key === key) return known.branch;
    const branch = await this.readDefaultBranch();
    heads.set(this.mirrorDir, { key, branch, commit: null });
    return branch;
  }

  private async readDefaultBranch(): Promise<string> {
    const r = await this.git(['-C', this.mirrorDir, 'symbolic-ref', '--quiet', 'HEAD'], { timeoutMs: LOCAL_TIMEOUT_MS });
    const ref = r.stdout.toString('utf8').trim();
    if (r.code !== 0 || !ref.startsWith('refs/heads/')) {
      throw this.fail('GIT_NO_DEFAULT_BRANCH', `cannot tell the default branch of ${this.displayUrl}`, r);
    }
    return ref.slice('refs/heads/'.length);
  }

  /** The commit the default branch points at. */
  async headCommit(): Promise<string> {
    await this.ensure();
    const key = await this.headKey();
    const known = heads.get(this.mirrorDir);
    if (known?.key === key && known.commit !== null) return known.commit;
    const branch = known?.key === key ? known.branch : await this.readDefaultBranch();
    const r = await this.git(['-C', this.mirrorDir, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
    if (r.code !== 0) throw this.fail('GIT_EMPTY_REPOSITORY', `${this.displayUrl} has no commits on ${branch}`, r);
    const commit = r.stdout.toString('utf8').trim();
    heads.set(this.mirrorDir, { key, branch, commit });
    return commit;
  }

  /** Entries under `repoPath` (a file or a directory, recursively) at `commit`; remembered, as they cannot change. */
  private async lsTree(commit: string, repoPath: string, recursive: boolean): Promise<readonly TreeEntry[]> {
    const cacheKey = `${this.mirrorDir}\0${commit}\0${recursive ? 'r' : ''}\0${repoPath}`;
    const cached = treeCache.get(cacheKey);
    if (cached) return cached;
    const args = ['-C', this.mirrorDir, 'ls-tree', '-z', '--full-tree'];
    if (recursive) args.push('-r');
    args.push(commit, '--', repoPath);
    // Paths are names, not patterns: a file called `*.yaml` must not match others.
    const r = await this.git(args, { timeoutMs: LOCAL_TIMEOUT_MS, env: { GIT_LITERAL_PATHSPECS: '1' } });
    if (r.code !== 0) throw this.fail('GIT_READ_FAILED', `cannot list ${repoPath} in ${this.displayUrl}`, r);
    const entries: TreeEntry[] = [];
    for (const rec of r.stdout.toString('utf8').split('\0')) {
      if (!rec) continue;
      const m = /^(\d+) (\w+) ([0-9a-f]+)\t([\s\S]*)$/.exec(rec);
      if (m && m[1] && m[2] && m[3] && m[4] !== undefined) entries.push(Object.freeze({ mode: m[1], type: m[2], oid: m[3], path: m[4] }));
    }
    Object.freeze(entries);
    treeCache.set(cacheKey, entries);
    return entries;
  }

  /** Blobs by object id: remembered ones from the cache (copied: callers own what they get), the rest with one `git cat-file --batch`. */
  private async readBlobs(oids: readonly string[]): Promise<Buffer[]> {
    const found = oids.map((oid) => blobCache.get(oid));
    const missing = [...new Set(oids.filter((_, i) => found[i] === undefined))];
    const read = new Map<string, Buffer>();
    if (missing.length > 0) {
      for (const [i, blob] of (await this.catBlobs(missing)).entries()) {
        read.set(missing[i] as string, blob);
        blobCache.set(missing[i] as string, blob);
      }
    }
    return oids.map((oid, i) => Buffer.from(found[i] ?? (read.get(oid) as Buffer)));
  }

  private async catBlobs(oids: readonly string[]): Promise<Buffer[]> {
    const r = await this.git(['-C', this.mirrorDir, 'cat-file', '--batch'], {
      input: oids.join('\n') + '\n',
      timeoutMs: LOCAL_TIMEOUT_MS,
    });
    if (r.code !== 0) throw this.fail('GIT_READ_FAILED', `cannot read objects from the mirror of ${this.displayUrl}`, r);
    const out = r.stdout;
    const result: Buffer[] = [];
    let pos = 0;
    for (const oid of oids) {
      const nl = out.indexOf(0x0a, pos);
      const header = out.subarray(pos, nl).toString('utf8');
      const m = /^([0-9a-f]+) (\w+) (\d+)$/.exec(header);
      if (nl < 0 || !m || m[2] !== 'blob' || !m[3]) {
        throw new AirutError('GIT_READ_FAILED', this.clean(`cannot read object ${oid} from the mirror: ${header}`));
      }
      const size = Number(m[3]);
      result.push(Buffer.from(out.subarray(nl + 1, nl + 1 + size)));
      pos = nl + 1 + size + 1; // content is followed by a newline
    }
    return result;
  }

  /**
   * The object id of directory `dir`'s tree on the default branch, or null when there is no such
   * directory: the same id means the same files, so a caller can reuse what it made from them.
   */
  async treeOid(dir: string): Promise<string | null> {
    const d = normaliseRepoPath(dir, 'directory');
    const commit = await this.headCommit();
    if (!d) {
      const r = await this.git(['-C', this.mirrorDir, 'rev-parse', '--verify', '--quiet', `${commit}^{tree}`]);
      if (r.code !== 0) throw this.fail('GIT_READ_FAILED', `cannot read the root tree of ${this.displayUrl}`, r);
      return r.stdout.toString('utf8').trim();
    }
    const entry = (await this.lsTree(commit, d, false)).find((e) => e.path === d);
    return entry !== undefined && entry.type === 'tree' ? entry.oid : null;
  }

  /**
   * The content of `repoPath` on the default branch, or null when there is no such file. A directory,
   * symlink or submodule at that path is an error: callers expect file content.
   */
  async readFile(repoPath: string): Promise<Buffer | null> {
    const p = normaliseRepoPath(repoPath, 'file');
    if (!p) throw new AirutError('GIT_PATH_INVALID', 'file path is empty');
    const commit = await this.headCommit();
    const entry = (await this.lsTree(commit, p, false)).find((e) => e.path === p);
    if (!entry) return null;
    if (entry.type !== 'blob' || entry.mode === '120000') {
      const kind = entry.type === 'tree' ? 'a directory' : entry.mode === '120000' ? 'a symbolic link' : `a ${entry.type}`;
      throw new AirutError('GIT_NOT_A_FILE', `${p} in ${this.displayUrl} is ${kind}, not a regular file`);
    }
    const [blob] = await this.readBlobs([entry.oid]);
    return blob ?? null;
  }

  /**
   * Every regular file under directory `dir` on the default branch (recursively), sorted by path.
   * Symbolic links and submodules are left out: their targets are outside what we hand to a build.
   * A missing directory gives an empty list.
   */
  async readTree(dir: string): Promise<TreeFile[]> {
    const d = normaliseRepoPath(dir, 'directory');
    const commit = await this.headCommit();
    const entries = (await this.lsTree(commit, d ? d + '/' : '.', true)).filter(
      (e) => e.type === 'blob' && (e.mode === '100644' || e.mode === '100755'),
    );
    const blobs = await this.readBlobs(entries.map((e) => e.oid));
    const files = entries.map((e, i) => ({
      path: d ? e.path.slice(d.length + 1) : e.path,
      content: blobs[i] as Buffer,
      mode: e.mode as '100644' | '100755',
    }));
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return files;
  }

  /**
   * Writes the regular files under `dir` (default branch) into `destDir` — e.g. the build context for
   * `.airut/container/`. `destDir` is created if needed and must not already hold the same names.
   * Returns the written relative paths.
   */
  async exportDir(dir: string, destDir: string): Promise<string[]> {
    const files = await this.readTree(dir);
    const root = path.resolve(destDir);
    await fs.mkdir(root, { recursive: true });
    for (const f of files) {
      const target = path.resolve(root, f.path);
      // Tree entries can't contain ".." — checked anyway, as this writes outside git's control.
      if (!target.startsWith(root + path.sep)) {
        throw new AirutError('GIT_PATH_INVALID', `refusing to write ${JSON.stringify(f.path)} outside ${root}`);
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, f.content, { flag: 'wx', mode: f.mode === '100755' ? 0o755 : 0o644 });
    }
    return files.map((f) => f.path);
  }

  /**
   * A normal clone of the repository at `dest` (which must not exist, or be an empty directory),
   * made from the local mirror, with the default branch checked out and `origin` pointing at the
   * real repository by its public URL: any token in the configured URL stays with the daemon, and
   * the agent pushes only with credentials the repository gives it (see docs/repository-setup.md).
   * Objects are copied, not hard-linked or borrowed: the workspace is mounted into a container, and
   * must neither reach outside itself (alternates) nor be able to alter the mirror's files (hard
   * links). They are copied as files (`--local --no-hardlinks`), not sent through git's transport
   * (`--no-local`), which packs and re-verifies every object: for a repository with a 30 MB file
   * that was seconds instead of a quarter of one. The copy takes every object of the mirror (those of
   * refs that are not branches too, such as a host's pull-request refs), unreachable in the
   * workspace; refs are made as over the network (branches and `origin/*` only). The mirror is the
   * daemon's own, never mounted into a container, and git refuses a local clone through links in
   * `objects/`.
   */
  /** `branch`: another branch of the mirror than the default (a companion repository's `name@branch`); the caller validates its name. */
  async cloneWorkspace(dest: string, branch?: string): Promise<void> {
    await this.ensure();
    if (branch !== undefined && (branch.startsWith('-') || branch.includes('..'))) throw new AirutError('GIT_CLONE_FAILED', `branch ${JSON.stringify(branch)} is not a valid branch name`);
    branch ??= await this.defaultBranch();
    const target = path.resolve(dest);
    const r = await this.git(
      ['clone', '--local', '--no-hardlinks', '--quiet', '--branch', branch, '--', this.mirrorDir, target],
      { timeoutMs: LOCAL_TIMEOUT_MS },
    );
    if (r.code !== 0) throw this.fail('GIT_CLONE_FAILED', `cloning the workspace from the mirror of ${this.displayUrl} failed`, r);
    const s = await this.git(['-C', target, 'remote', 'set-url', 'origin', '--', this.publicUrl]);
    if (s.code !== 0) throw this.fail('GIT_CLONE_FAILED', `setting origin of the workspace to ${this.displayUrl} failed`, s);
  }

  /**
   * Removes this repository's credentials (and any URL credentials) from an existing workspace's
   * `.git/config`. Workspaces cloned before the public-URL rule have the token in `origin`; this
   * runs before every task so that the next container no longer sees it. Returns true when the
   * file was changed. The workspace is the agent's: see workspace-scrub.ts for how it is read.
   */
  async scrubWorkspace(dest: string): Promise<boolean> {
    return scrubWorkspaceConfig(path.resolve(dest), this.secrets);
  }
}
