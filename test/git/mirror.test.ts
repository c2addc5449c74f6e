import { execFileSync } from 'node:child_process';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { AirutError } from '../../src/errors.ts';
import { GitMirror } from '../../src/git/mirror.ts';
import { startGitHttpServer, type GitHttpServer } from '../harness/git-http-server.ts';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' });
}

async function write(repo: string, rel: string, content: string | Buffer, mode?: number): Promise<void> {
  const p = path.join(repo, rel);
  await fs.mkdir(path.dirname(p), { recursive: true });
  await fs.writeFile(p, content);
  if (mode !== undefined) await fs.chmod(p, mode);
}

/** A source repository with `.airut/` files, on branch `branch`. */
async function makeSourceRepo(root: string, branch: string): Promise<string> {
  const repo = path.join(root, `src-${branch}`);
  await fs.mkdir(repo, { recursive: true });
  git(repo, 'init', '--quiet', '-b', branch);
  await write(repo, '.airut/airut.yaml', 'default_model: opus\ntimeout: 600\n');
  await write(repo, '.airut/container/Dockerfile', 'FROM scratch\nCOPY gitconfig /root/.gitconfig\n');
  await write(repo, '.airut/container/gitconfig', '[user]\n\tname = Bot\n');
  await write(repo, '.airut/container/scripts/entry.sh', '#!/bin/sh\necho hi\n', 0o755);
  await write(repo, 'README.md', '# hello\n');
  await write(repo, 'bin.dat', Buffer.from([0, 1, 2, 10, 255, 10, 10]));
  await fs.symlink('../README.md', path.join(repo, '.airut/container/link'));
  git(repo, 'add', '-A');
  git(repo, 'commit', '--quiet', '-m', 'initial');
  return repo;
}

describe('GitMirror', () => {
  let root: string;
  let srcMain: string;
  let srcMaster: string;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'airut-git-'));
    srcMain = await makeSourceRepo(root, 'main');
    srcMaster = await makeSourceRepo(root, 'master');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates the mirror on first use and reads the default branch (main)', async () => {
    const storage = path.join(root, 's-main');
    const m = new GitMirror(storage, srcMain);
    await m.update();
    assert.equal(m.mirrorDir, path.join(storage, 'git-mirror'));
    const bare = git(m.mirrorDir, 'rev-parse', '--is-bare-repository').trim();
    assert.equal(bare, 'true');
    assert.equal(await m.defaultBranch(), 'main');
    // no leftovers from the temp-dir-and-rename creation
    const names = (await fs.readdir(storage)).sort();
    assert.deepEqual(names.filter((n) => n.includes('tmp')), []);
  });

  it('detects master as the default branch', async () => {
    const m = new GitMirror(path.join(root, 's-master'), srcMaster);
    assert.equal(await m.defaultBranch(), 'master');
    assert.equal((await m.readFile('README.md'))?.toString(), '# hello\n');
  });

  it('update() sees a new commit, and reads follow it', async () => {
    const m = new GitMirror(path.join(root, 's-update'), srcMain);
    await m.update();
    const before = await m.headCommit();
    await write(srcMain, 'NEW.txt', 'new file\n');
    git(srcMain, 'add', 'NEW.txt');
    git(srcMain, 'commit', '--quiet', '-m', 'second');
    assert.equal(await m.readFile('NEW.txt'), null, 'not visible before update');
    await m.update();
    const afterC = await m.headCommit();
    assert.notEqual(afterC, before);
    assert.equal(afterC, git(srcMain, 'rev-parse', 'HEAD').trim());
    assert.equal((await m.readFile('NEW.txt'))?.toString(), 'new file\n');
  });

  it('update({ freshForMs }) takes a fetch that recent as its own; an older one, or none given, fetches again', async () => {
    const repo = await makeSourceRepo(path.join(root, 'fresh'), 'main');
    const m = new GitMirror(path.join(root, 's-fresh'), repo);
    await m.update();
    const first = await m.headCommit();
    await write(repo, 'PUSHED.txt', 'pushed\n');
    git(repo, 'add', 'PUSHED.txt');
    git(repo, 'commit', '--quiet', '-m', 'pushed');
    await m.update({ freshForMs: 60_000 });
    assert.equal(await m.headCommit(), first, 'the fetch a moment ago counts: no new fetch');
    // The stamp says when the last fetch started; set it back past the window.
    await fs.writeFile(path.join(root, 's-fresh', 'git-mirror.fetched'), String(Date.now() - 61_000));
    await m.update({ freshForMs: 60_000 });
    assert.equal(await m.headCommit(), git(repo, 'rev-parse', 'HEAD').trim(), 'older than the window: fetched');
    await write(repo, 'AGAIN.txt', 'again\n');
    git(repo, 'add', 'AGAIN.txt');
    git(repo, 'commit', '--quiet', '-m', 'again');
    await m.update();
    assert.equal(await m.headCommit(), git(repo, 'rev-parse', 'HEAD').trim(), 'no window: always fetched');
  });

  it('update() prunes deleted branches and follows a changed default branch', async () => {
    const repo = await makeSourceRepo(path.join(root, 'prune'), 'main');
    git(repo, 'branch', 'feature');
    const m = new GitMirror(path.join(root, 's-prune'), repo);
    await m.update();
    assert.match(git(m.mirrorDir, 'branch', '--list'), /feature/);
    git(repo, 'branch', '-D', 'feature');
    git(repo, 'branch', 'trunk');
    git(repo, 'symbolic-ref', 'HEAD', 'refs/heads/trunk');
    await m.update();
    assert.doesNotMatch(git(m.mirrorDir, 'branch', '--list'), /feature/);
    assert.equal(await m.defaultBranch(), 'trunk');
  });

  it('readFile returns bytes exactly, null for a missing file, and refuses directories and symlinks', async () => {
    const m = new GitMirror(path.join(root, 's-read'), srcMain);
    await m.update();
    assert.deepEqual(await m.readFile('bin.dat'), Buffer.from([0, 1, 2, 10, 255, 10, 10]));
    assert.equal((await m.readFile('.airut/airut.yaml'))?.toString(), 'default_model: opus\ntimeout: 600\n');
    assert.equal((await m.readFile('./.airut/airut.yaml'))?.toString(), 'default_model: opus\ntimeout: 600\n');
    assert.equal(await m.readFile('.airut/missing.yaml'), null);
    assert.equal(await m.readFile('nope/deeper/file'), null);
    await assert.rejects(m.readFile('.airut'), (e: AirutError) => e.code === 'GIT_NOT_A_FILE');
    await assert.rejects(m.readFile('.airut/container/link'), (e: AirutError) => e.code === 'GIT_NOT_A_FILE');
    await assert.rejects(m.readFile('../etc/passwd'), (e: AirutError) => e.code === 'GIT_PATH_INVALID');
  });

  it('readTree and exportDir give the container context (regular files, modes, no symlinks)', async () => {
    const m = new GitMirror(path.join(root, 's-tree'), srcMain);
    await m.update();
    const tree = await m.readTree('.airut/container');
    assert.deepEqual(
      tree.map((f) => [f.path, f.mode]),
      [
        ['Dockerfile', '100644'],
        ['gitconfig', '100644'],
        ['scripts/entry.sh', '100755'],
      ],
    );
    assert.equal(tree[0]?.content.toString(), 'FROM scratch\nCOPY gitconfig /root/.gitconfig\n');
    assert.deepEqual(await m.readTree('.airut/absent'), []);

    const dest = path.join(root, 'ctx');
    const written = await m.exportDir('.airut/container/', dest);
    assert.deepEqual(written, ['Dockerfile', 'gitconfig', 'scripts/entry.sh']);
    assert.equal(await fs.readFile(path.join(dest, 'gitconfig'), 'utf8'), '[user]\n\tname = Bot\n');
    const st = await fs.stat(path.join(dest, 'scripts/entry.sh'));
    assert.ok(st.mode & 0o100, 'executable bit kept');
    await assert.rejects(fs.lstat(path.join(dest, 'link')), /ENOENT/);
  });

  it('cloneWorkspace makes a normal clone on the default branch with origin = the repo URL', async () => {
    const m = new GitMirror(path.join(root, 's-clone'), srcMaster);
    await m.update();
    const ws = path.join(root, 'conv', 'workspace');
    await fs.mkdir(ws, { recursive: true }); // an existing empty directory is fine
    await m.cloneWorkspace(ws);
    assert.equal(await fs.readFile(path.join(ws, '.airut/airut.yaml'), 'utf8'), 'default_model: opus\ntimeout: 600\n');
    assert.equal(git(ws, 'remote', 'get-url', 'origin').trim(), srcMaster);
    assert.equal(git(ws, 'rev-parse', '--abbrev-ref', 'HEAD').trim(), 'master');
    assert.equal(git(ws, 'status', '--porcelain').trim(), '');
    // self-contained: no alternates pointing into the mirror, and no object file shared with it (hard link)
    await assert.rejects(fs.access(path.join(ws, '.git/objects/info/alternates')));
    const objectFiles = (await fs.readdir(path.join(ws, '.git/objects'), { recursive: true })).map((f) => path.join(ws, '.git/objects', f));
    const shared = [];
    for (const f of objectFiles) if ((await fs.lstat(f)).isFile() && (await fs.lstat(f)).nlink > 1) shared.push(f);
    assert.deepEqual(shared, []);
    assert.ok(objectFiles.length > 0);
    // only the branches, as a clone over the network gives them: nothing of the mirror's other refs
    git(m.mirrorDir, 'update-ref', 'refs/pull/1/head', git(m.mirrorDir, 'rev-parse', 'HEAD').trim());
    const ws2 = path.join(root, 'conv2', 'workspace');
    await m.cloneWorkspace(ws2);
    assert.deepEqual(git(ws2, 'for-each-ref', '--format=%(refname)').trim().split('\n'), ['refs/heads/master', 'refs/remotes/origin/HEAD', 'refs/remotes/origin/master']);
    // the agent can push back to the real repository
    await write(ws, 'agent.txt', 'from the agent\n');
    git(ws, 'add', 'agent.txt');
    git(ws, 'commit', '--quiet', '-m', 'agent work');
    git(ws, 'push', '--quiet', 'origin', 'HEAD:refs/heads/agent-branch');
    assert.match(git(srcMaster, 'branch', '--list'), /agent-branch/);
  });

  it('concurrent update() calls from many instances and worker threads are serialized', async () => {
    const repo = await makeSourceRepo(path.join(root, 'conc'), 'main');
    const storage = path.join(root, 's-conc');
    const first = new GitMirror(storage, repo);
    await first.update();
    const workerSource = `
      import { workerData, parentPort } from 'node:worker_threads';
      // The thread inherits the test process's tsx loader (Node 22 and later).
      const { GitMirror } = await import(workerData.mirrorModule);
      const m = new GitMirror(workerData.storage, workerData.repo);
      try {
        for (let i = 0; i < 3; i++) await m.update();
        parentPort.postMessage({ ok: true });
      } catch (e) {
        parentPort.postMessage({ ok: false, error: String(e && e.message || e) });
      }
    `;
    const mirrorModule = new URL('../../src/git/mirror.ts', import.meta.url).href;
    const workerFile = path.join(root, 'update-worker.mjs');
    await fs.writeFile(workerFile, workerSource);
    const runWorker = () =>
      new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
        // Each worker thread has its own module state: its own mutex map, so only the lock file
        // stands between it and the others.
        const w = new Worker(workerFile, {
          workerData: { mirrorModule, storage, repo },
        });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const inThread = async () => {
      for (let i = 0; i < 3; i++) {
        await write(repo, `f${i}.txt`, String(i));
        git(repo, 'add', '-A');
        git(repo, 'commit', '--quiet', '-m', `c${i}`);
        await Promise.all([new GitMirror(storage, repo).update(), new GitMirror(storage, repo).update()]);
      }
      return { ok: true };
    };
    const results = await Promise.all([runWorker(), runWorker(), runWorker(), inThread()]);
    for (const r of results) assert.deepEqual(r, { ok: true });
    await first.update();
    assert.equal(await first.headCommit(), git(repo, 'rev-parse', 'HEAD').trim());
    await assert.rejects(fs.access(first.lockPath), 'lock file removed afterwards');
  });

  it('a bad URL fails with GIT_CLONE_FAILED, a readable message and no credentials', async () => {
    const url = 'https://user:secret-token-123@127.0.0.1:1/x.git';
    const m = new GitMirror(path.join(root, 's-bad'), url);
    await assert.rejects(m.update(), (e: unknown) => {
      assert.ok(e instanceof AirutError);
      assert.equal(e.code, 'GIT_CLONE_FAILED');
      assert.doesNotMatch(e.message, /secret-token-123/);
      assert.doesNotMatch(e.message, /user:/);
      assert.match(e.message, /https:\/\/\*\*\*@127\.0\.0\.1:1\/x\.git/);
      assert.match(e.message, /127\.0\.0\.1|connect/i);
      return true;
    });
    assert.equal(m.displayUrl, 'https://***@127.0.0.1:1/x.git');
    // nothing half-made is left behind
    await assert.rejects(fs.access(m.mirrorDir));
  });

  it('a failing fetch reports GIT_FETCH_FAILED', async () => {
    const repo = await makeSourceRepo(path.join(root, 'gone'), 'main');
    const m = new GitMirror(path.join(root, 's-gone'), repo);
    await m.update();
    await fs.rm(repo, { recursive: true, force: true });
    // a new instance (no in-memory state) so the fetch really runs
    await new Promise((r) => setTimeout(r, 5));
    await assert.rejects(new GitMirror(path.join(root, 's-gone'), repo).update(), (e: AirutError) => {
      assert.equal(e.code, 'GIT_FETCH_FAILED');
      assert.match(e.message, /git fetch of .* failed: .+/);
      return true;
    });
    // the mirror still serves reads
    assert.equal((await m.readFile('README.md'))?.toString(), '# hello\n');
  });

  it('remembered reads never hide a move: an update by another instance (another thread) is seen by the next read', async () => {
    const repo = await makeSourceRepo(path.join(root, 'cache'), 'main');
    const reader = new GitMirror(path.join(root, 's-cache'), repo);
    const fetcher = new GitMirror(path.join(root, 's-cache'), repo);
    await reader.update();
    const tree1 = await reader.treeOid('.airut/container');
    assert.match(tree1 ?? '', /^[0-9a-f]{40}$/);
    assert.equal(await reader.treeOid('.airut/container'), tree1, 'the same tree while the branch stands still');
    assert.equal(await reader.treeOid('no/such/dir'), null);
    assert.equal(await reader.treeOid('README.md'), null, 'a file is not a directory');
    assert.equal((await reader.readFile('.airut/airut.yaml'))?.toString(), 'default_model: opus\ntimeout: 600\n');

    await write(repo, '.airut/airut.yaml', 'default_model: sonnet\n');
    await write(repo, '.airut/container/Dockerfile', 'FROM scratch\n');
    git(repo, 'commit', '--quiet', '-am', 'move');
    await fetcher.update();
    assert.equal(await reader.headCommit(), git(repo, 'rev-parse', 'HEAD').trim(), 'the fetch by the other instance is seen');
    assert.equal((await reader.readFile('.airut/airut.yaml'))?.toString(), 'default_model: sonnet\n');
    assert.notEqual(await reader.treeOid('.airut/container'), tree1, 'a changed container directory has a new tree id');

    // Callers own what they read: changing it does not change the next read.
    const bytes = await reader.readFile('.airut/airut.yaml');
    bytes!.fill(0x41);
    assert.equal((await reader.readFile('.airut/airut.yaml'))?.toString(), 'default_model: sonnet\n');
    const [dockerfile] = await reader.readTree('.airut/container');
    assert.equal(dockerfile?.path, 'Dockerfile');
    assert.equal(dockerfile?.content.toString(), 'FROM scratch\n');

    // A default branch changed upstream is followed (HEAD rewritten) on the next read too.
    git(repo, 'checkout', '--quiet', '-b', 'trunk');
    await write(repo, 'TRUNK', 'x\n');
    git(repo, 'add', 'TRUNK');
    git(repo, 'commit', '--quiet', '-m', 'trunk');
    await fetcher.update();
    assert.equal(await reader.defaultBranch(), 'trunk');
    assert.equal((await reader.readFile('TRUNK'))?.toString(), 'x\n');
  });

  it('rejects a URL that git would read as an option', () => {
    assert.throws(() => new GitMirror(root, '--upload-pack=touch /tmp/x'), (e: AirutError) => e.code === 'GIT_URL_INVALID');
  });
});

/** Every file under `dir` (symlinks not followed) whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if ((await fs.readFile(file)).includes(needle)) hits.push(file);
  }
  return hits;
}

describe('GitMirror with credentials in repo_url (issue 13, item 5)', () => {
  const TOKEN = 'tok-4f9c1e7a2b';
  let root: string;
  let server: GitHttpServer;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'airut-git-cred-'));
    const served = path.join(root, 'served');
    await fs.mkdir(served);
    const src = await makeSourceRepo(root, 'main');
    git(served, 'clone', '--quiet', '--bare', src, 'private.git');
    server = await startGitHttpServer(served, { user: 'bot', token: TOKEN });
  });
  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('clones with the token, yet neither the mirror nor the workspace holds it; origin is the public URL', async () => {
    // Without the credentials the server refuses: the ones in the URL are really used.
    await assert.rejects(new GitMirror(path.join(root, 's-anon'), server.url('private.git')).update(), { code: 'GIT_CLONE_FAILED' });
    const m = new GitMirror(path.join(root, 's-cred'), server.urlWithCredentials('private.git'));
    await m.update();
    await m.update(); // a fetch as well as the clone
    const ws = path.join(root, 'ws');
    await m.cloneWorkspace(ws);
    assert.ok(server.counts.served > 0);
    assert.equal(git(ws, 'remote', 'get-url', 'origin').trim(), server.url('private.git'));
    assert.deepEqual(await filesContaining(ws, TOKEN), [], 'the workspace must not hold the token');
    assert.deepEqual(await filesContaining(m.mirrorDir, TOKEN), [], 'the mirror must not hold the token');
    assert.equal((await fs.readFile(path.join(ws, 'README.md'), 'utf8')), '# hello\n');
  });

  it('an update cleans a mirror that still stores the token; a scrub cleans an old workspace and follows no link', async () => {
    const m = new GitMirror(path.join(root, 's-old'), server.urlWithCredentials('private.git'));
    await m.update();
    const ws = path.join(root, 'ws-old');
    await m.cloneWorkspace(ws);
    // As the code before the fix left them.
    git(m.mirrorDir, 'config', 'remote.origin.url', server.urlWithCredentials('private.git'));
    git(ws, 'remote', 'set-url', 'origin', server.urlWithCredentials('private.git'));
    git(ws, 'remote', 'add', 'other', 'https://someone:other-token-77@host.example/r.git');

    await new GitMirror(path.join(root, 's-old'), server.urlWithCredentials('private.git')).update();
    assert.deepEqual(await filesContaining(m.mirrorDir, TOKEN), []);
    assert.equal(await m.scrubWorkspace(ws), true);
    assert.deepEqual(await filesContaining(ws, TOKEN), []);
    assert.deepEqual(await filesContaining(ws, 'other-token-77'), []);
    assert.equal(git(ws, 'remote', 'get-url', 'origin').trim(), server.url('private.git'));
    assert.equal(git(ws, 'remote', 'get-url', 'other').trim(), 'https://host.example/r.git');
    assert.equal(await m.scrubWorkspace(ws), false, 'nothing left to do');

    // An agent that replaced .git/config by a link to a host file gets nothing rewritten there.
    const outside = path.join(root, 'host-file');
    const hostText = `[remote "x"]\n\turl = ${server.urlWithCredentials('private.git')}\n`;
    await fs.writeFile(outside, hostText);
    await fs.rm(path.join(ws, '.git', 'config'));
    await fs.symlink(outside, path.join(ws, '.git', 'config'));
    assert.equal(await m.scrubWorkspace(ws), false);
    assert.equal(await fs.readFile(outside, 'utf8'), hostText);
  });
});
