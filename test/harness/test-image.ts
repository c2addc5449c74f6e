/**
 * A tiny container image for tests, built without any registry: `FROM scratch` + `ADD rootfs.tar /`.
 *
 * The tarball holds busybox (Debian `busybox-static`) with a link per applet, bash, curl (an S3-style
 * client for the signing_credentials test: `curl --aws-sigv4`), the host's git (see `gitFiles`) so an
 * agent can commit and push over HTTPS, the glibc libraries all of these and the Claude Code binary
 * need (from `ldd`), /etc/passwd, /tmp and /root. The
 * Claude binary itself is not in it: runs mount it read-only, as in production.
 *
 * The tarball is cached under the temp dir, keyed by the inputs' paths, sizes and mtimes, and built
 * deterministically (sorted, fixed owner and mtime), so the image tag stays the same across runs
 * and repeated test runs neither rebuild the tarball nor the image.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { resolveClaudeBinary } from '../../src/sandbox/claude-binary.ts';
import type { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import { ensureImage } from '../../src/sandbox/image.ts';
import { testRuntime } from './podman-env.ts';

const run = promisify(execFile);
/** Bump when the recipe below changes, so cached tarballs are not reused. */
const RECIPE_VERSION = 4;
export const TEST_IMAGE_REPO_ID = 'airut-test';

export const TEST_DOCKERFILE = `FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root SHELL=/bin/bash
CMD ["/bin/sh"]
`;

function findBusybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox is not installed: apt-get install busybox-static (needed for the test image)');
}

async function sharedLibraries(binary: string): Promise<string[]> {
  let out: string;
  try {
    out = (await run('ldd', [binary])).stdout;
  } catch {
    return []; // "not a dynamic executable" (static busybox)
  }
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs];
}

function findCurl(): string {
  for (const p of ['/usr/bin/curl', '/bin/curl']) if (existsSync(p)) return p;
  throw new Error('curl is not installed: apt-get install curl (needed for the test image)');
}

/**
 * git and the exec-path helpers it runs for HTTPS remotes (git-remote-https is a link to
 * git-remote-http, which carries libcurl). Everything else git needs for commit and push is built
 * into the `git` binary; the exec-path gets a `git` too, since git runs its builtins from there.
 */
async function gitFiles(): Promise<{ git: string; execPath: string; helpers: string[] }> {
  const git = ['/usr/bin/git', '/bin/git'].find((p) => existsSync(p));
  if (!git) throw new Error('git is not installed: apt-get install git (needed for the test image)');
  const execPath = (await run(git, ['--exec-path'])).stdout.trim();
  const helpers = ['git-remote-http', 'git-remote-https'].map((h) => join(execPath, h));
  for (const h of helpers) if (!existsSync(h)) throw new Error(`${h} is missing: the test image needs git's HTTPS helper`);
  return { git, execPath, helpers };
}

async function rootfsInputs(): Promise<{ busybox: string; bash: string; curl: string; libs: string[]; git: Awaited<ReturnType<typeof gitFiles>> }> {
  const busybox = findBusybox();
  const bash = existsSync('/bin/bash') ? '/bin/bash' : '/usr/bin/bash';
  const curl = findCurl();
  const git = await gitFiles();
  const libs = new Set<string>();
  for (const bin of [bash, busybox, curl, resolveClaudeBinary(), git.git, ...git.helpers]) for (const l of await sharedLibraries(bin)) libs.add(l);
  return { busybox, bash, curl, libs: [...libs].sort(), git };
}

/** Builds (or reuses) the cached rootfs tarball and returns its path. */
export async function testRootfsTarball(): Promise<string> {
  const inputs = await rootfsInputs();
  const key = createHash('sha256');
  key.update(`v${RECIPE_VERSION}\n`);
  for (const p of [inputs.busybox, inputs.bash, inputs.curl, inputs.git.git, ...inputs.git.helpers, ...inputs.libs]) {
    const st = statSync(p);
    key.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
  }
  const tarball = join(tmpdir(), `airut-test-rootfs-${key.digest('hex').slice(0, 16)}.tar`);
  if (existsSync(tarball)) return tarball;

  const stage = await mkdtemp(join(tmpdir(), 'airut-test-rootfs-'));
  try {
    for (const d of ['bin', 'usr/bin', 'usr/local/bin', 'etc', 'root', 'tmp', 'workspace']) {
      await mkdir(join(stage, d), { recursive: true });
    }
    await chmod(join(stage, 'tmp'), 0o1777);
    await copyFile(inputs.busybox, join(stage, 'bin/busybox'));
    await copyFile(inputs.bash, join(stage, 'bin/bash'));
    await copyFile(inputs.curl, join(stage, 'usr/bin/curl'));
    const applets = (await run(inputs.busybox, ['--list'])).stdout.split('\n').filter((a) => /^[\w.[-]+$/.test(a));
    for (const applet of applets) {
      if (applet === 'busybox' || applet === 'bash') continue;
      await symlink('busybox', join(stage, 'bin', applet));
    }
    await symlink('/bin/env', join(stage, 'usr/bin/env'));
    await copyGit(inputs.git, stage);
    for (const lib of inputs.libs) {
      await mkdir(join(stage, dirname(lib)), { recursive: true });
      await copyFile(lib, join(stage, lib)); // copyFile follows symlinks: the real library lands at the ldd path
    }
    await writeFile(join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    await writeFile(join(stage, 'etc/group'), 'root:x:0:\n');
    // Unique per call: several repositories of one process may build the tarball at once.
    const partial = `${tarball}.${process.pid}-${randomBytes(4).toString('hex')}.partial`;
    await run('tar', [
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-C',
      stage,
      '-cf',
      partial,
      '.',
    ]);
    await rename(partial, tarball);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  return tarball;
}

/** git at its host path, its exec-path with the HTTPS helpers, and a `git` there for the builtins. */
async function copyGit(git: Awaited<ReturnType<typeof gitFiles>>, stage: string): Promise<void> {
  await mkdir(join(stage, git.execPath), { recursive: true });
  await mkdir(join(stage, dirname(git.git)), { recursive: true });
  await copyFile(git.git, join(stage, git.git));
  await symlink(git.git, join(stage, git.execPath, 'git'));
  await copyFile(join(git.execPath, 'git-remote-http'), join(stage, git.execPath, 'git-remote-http'));
  await symlink('git-remote-http', join(stage, git.execPath, 'git-remote-https'));
}

/** Writes the test image's build context (Dockerfile + rootfs.tar) into `dir`. */
export async function buildTestImageContext(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tarball = await testRootfsTarball();
  await copyFile(tarball, join(dir, 'rootfs.tar'));
  await writeFile(join(dir, 'Dockerfile'), TEST_DOCKERFILE);
}

/** Builds the test image if needed (through the production `ensureImage`) and returns its tag. */
export async function ensureTestImage(runtime: ContainerRuntime = testRuntime()): Promise<string> {
  const tarball = await testRootfsTarball();
  // A stable context dir per tarball keeps the context hash, hence the tag, the same across runs.
  const dir = `${tarball.slice(0, -'.tar'.length)}-context`;
  if (!existsSync(join(dir, 'Dockerfile'))) {
    const partial = `${dir}.${process.pid}.partial`;
    await buildTestImageContext(partial);
    await rename(partial, dir).catch(async () => rm(partial, { recursive: true, force: true }));
  }
  return (await ensureImage({ runtime, contextDir: dir, repoId: TEST_IMAGE_REPO_ID })).tag;
}
