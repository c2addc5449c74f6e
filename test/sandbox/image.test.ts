/**
 * Image builds against real podman and Docker (test/harness/runtimes.ts): content-hash tags, no rebuild,
 * one build per tag, readable failures.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { AirutError } from '../../src/errors.ts';
import type { ContainerRuntime } from '../../src/sandbox/container-runtime.ts';
import { ensureImage, hashContextDir, imageIsStale, imageTag } from '../../src/sandbox/image.ts';
import { parseCreated } from '../../src/sandbox/container-runtime.ts';
import { pruneImages } from '../../src/sandbox/image-prune.ts';
import { MANAGED_LABEL } from '../../src/sandbox/labels.ts';
import { runtimeCases, type RuntimeCase } from '../harness/runtimes.ts';
import { testRootfsTarball } from '../harness/test-image.ts';

process.env.AIRUT_LOG_LEVEL ??= 'warn';

let runtime: ContainerRuntime;
let rt: RuntimeCase;
let root: string;
/** Contexts of one runtime's suite live apart: a file one suite adds must not change the other's hashes. */
let suiteDir = 'shared';
const repoId = `imgtest-${randomBytes(4).toString('hex')}`;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'airut-image-test-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, suiteDir, name);
  await mkdir(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
  return dir;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('image age', () => {
  test('stale only when older than the age; 0 hours is never stale', () => {
    const h = 3_600_000;
    assert.equal(imageIsStale(0, 24, 24 * h), false);
    assert.equal(imageIsStale(0, 24, 24 * h + 1), true);
    assert.equal(imageIsStale(0, 0, 1_000_000 * h), false);
    assert.equal(imageIsStale(0, 1, 2 * h), true);
  });

  test('creation times as podman and Docker print them are read; anything else is null', () => {
    assert.equal(parseCreated('"2026-12-02T20:27:11.845136588Z"\n'), Date.UTC(2026, 11, 2, 20, 27, 11, 845));
    assert.equal(parseCreated('"2026-12-02T20:27:11Z"'), Date.UTC(2026, 11, 2, 20, 27, 11));
    assert.equal(parseCreated('"2026-12-02T21:27:11.5+01:00"'), Date.UTC(2026, 11, 2, 20, 27, 11, 500));
    for (const bad of ['', 'null', '"yesterday"', '2026-12-02T20:27:11Z', '"2026-12-02 20:27:11 +0000 UTC"']) assert.equal(parseCreated(bad), null, bad);
  });
});

describe('context hash', () => {
  test('depends on paths and contents, not on where the context lives', async () => {
    const a = await context('h1', { Dockerfile: 'FROM scratch\n', 'sub/x.txt': 'x' });
    const b = await context('h2', { 'sub/x.txt': 'x', Dockerfile: 'FROM scratch\n' });
    const c = await context('h3', { Dockerfile: 'FROM scratch\n', 'sub/y.txt': 'x' });
    const d = await context('h4', { Dockerfile: 'FROM scratch\n', 'sub/x.txt': 'y' });
    assert.equal(await hashContextDir(a), await hashContextDir(b));
    assert.notEqual(await hashContextDir(a), await hashContextDir(c));
    assert.notEqual(await hashContextDir(a), await hashContextDir(d));
    assert.match(await hashContextDir(a), /^[0-9a-f]{16}$/);
  });

  test('tags are airut-<repo>:<hash>; ids unusable in an image name are refused', () => {
    assert.equal(imageTag('My.Repo', '0123456789abcdef'), 'airut-my.repo:0123456789abcdef');
    assert.throws(() => imageTag('bad repo', '0123456789abcdef'), AirutError);
  });
});

function ensureImageTests(): void {
  test('builds once per content, reuses the tag, labels the image, shares concurrent builds', async () => {
    const dir = await context('ok', { Dockerfile: 'FROM scratch\nADD rootfs.tar /\n' });
    await copyFile(await testRootfsTarball(), join(dir, 'rootfs.tar'));

    const [first, concurrent] = await Promise.all([
      ensureImage({ runtime, contextDir: dir, repoId }),
      ensureImage({ runtime, contextDir: dir, repoId }),
    ]);
    assert.equal(first.built, true);
    assert.deepEqual(concurrent, first, 'a concurrent call joins the same build');
    assert.match(first.tag, new RegExp(`^airut-${repoId}:[0-9a-f]{16}$`));
    assert.equal(await runtime.imageExists(first.tag), true);

    const again = await ensureImage({ runtime, contextDir: dir, repoId });
    assert.deepEqual(again, { tag: first.tag, built: false, log: '' });

    const managed = await runtime.listImages({ label: MANAGED_LABEL });
    assert.ok(managed.some((i) => i.tag === first.tag), 'image carries airut.managed=1');
    const mine = await runtime.listImages({ label: `airut.repo=${repoId}` });
    assert.deepEqual(mine.map((i) => i.tag), [first.tag]);

    await writeFile(join(dir, 'extra.txt'), 'changed');
    const changed = await ensureImage({ runtime, contextDir: dir, repoId });
    assert.notEqual(changed.tag, first.tag);
    assert.equal(changed.built, true);
  });

  test('an image older than maxAgeHours is rebuilt without the cache at the next call (the clock moved, no waiting); 0 never rebuilds by age', async () => {
    // The RUN step writes a fresh random id: a cached rebuild would keep it, a --no-cache one changes it.
    const dir = await context('stale', { Dockerfile: 'FROM scratch\nADD rootfs.tar /\nRUN cat /proc/sys/kernel/random/uuid > /built-id\n' });
    await copyFile(await testRootfsTarball(), join(dir, 'rootfs.tar'));
    const builtId = async (tag: string) => (await runtime.exec(['run', '--rm', '--network', 'none', tag, 'cat', '/built-id'])).stdout.trim();
    const first = await ensureImage({ runtime, contextDir: dir, repoId, maxAgeHours: 24 });
    assert.equal(first.built, true);
    assert.equal(first.staleCreatedAt, undefined);
    const createdAt = await runtime.imageCreatedAt(first.tag);
    assert.ok(createdAt !== null && Math.abs(createdAt - Date.now()) < 3_600_000, `creation time read from the runtime: ${createdAt}`);
    const id1 = await builtId(first.tag);
    assert.match(id1, /^[0-9a-f-]{36}$/);

    const young = await ensureImage({ runtime, contextDir: dir, repoId, maxAgeHours: 24, now: () => createdAt + 23 * 3_600_000 });
    assert.deepEqual(young, { tag: first.tag, built: false, log: '' }, 'younger than the age: reused');
    const never = await ensureImage({ runtime, contextDir: dir, repoId, maxAgeHours: 0, now: () => createdAt + 1000 * 3_600_000 });
    assert.equal(never.built, false, '0: never rebuilt by age');

    const old = await ensureImage({ runtime, contextDir: dir, repoId, maxAgeHours: 24, now: () => createdAt + 25 * 3_600_000 });
    assert.equal(old.built, true);
    assert.equal(old.tag, first.tag, 'same content, same tag');
    assert.equal(old.staleCreatedAt, createdAt);
    assert.notEqual(await builtId(old.tag), id1, 'every step ran again: --no-cache');
    const recreated = await runtime.imageCreatedAt(old.tag);
    assert.ok(recreated !== null && recreated >= createdAt, 'the tag names the new image');

    // A refresh that fails (here: a build that cannot finish in 1 ms, as a registry that does not
    // answer would) keeps the image that worked: the task runs on it, nothing is lost.
    const id2 = await builtId(old.tag);
    const failed = await ensureImage({ runtime, contextDir: dir, repoId, maxAgeHours: 24, buildTimeoutMs: 1, now: () => recreated! + 25 * 3_600_000 });
    assert.equal(failed.tag, old.tag);
    assert.equal(failed.built, false);
    assert.match(failed.staleRebuildError ?? '', /\S/, 'why the refresh failed');
    assert.equal(await runtime.imageExists(old.tag), true, 'the working image is still there');
    assert.equal(await builtId(old.tag), id2, 'and is the same image, unchanged');
  });

  test('the creation time of a missing image is null', async () => {
    assert.equal(await runtime.imageCreatedAt(`airut-${repoId}:ffffffffffffffff`), null);
  });

  test('a broken Dockerfile fails with IMAGE_BUILD_FAILED and the end of the build log', async () => {
    const dir = await context('broken', { Dockerfile: 'FROM scratch\nCOPY does-not-exist.txt /\n' });
    await assert.rejects(ensureImage({ runtime, contextDir: dir, repoId }), (err: unknown) => {
      assert.ok(err instanceof AirutError);
      assert.equal(err.code, 'IMAGE_BUILD_FAILED');
      assert.match(err.message, /does-not-exist\.txt/);
      assert.ok(err.message.split('\n').length <= 42, 'only the tail of the log');
      return true;
    });
  });

  test('a build that runs past its timeout is stopped: IMAGE_BUILD_TIMEOUT, no process and no working container left', async () => {
    const nonce = randomBytes(6).toString('hex');
    // A unique sleep length marks this build's RUN process; the ENV line makes its layer unique.
    const seconds = 7000 + (parseInt(nonce.slice(0, 3), 16) % 999);
    const dir = await context('slow', { Dockerfile: `FROM scratch\nADD rootfs.tar /\nENV NONCE=${nonce}\nRUN sleep ${seconds}\n` });
    await copyFile(await testRootfsTarball(), join(dir, 'rootfs.tar'));
    // podman keeps a build's working containers apart (`--external`); docker's are ordinary containers.
    const psArgs = rt.command === 'podman' ? ['ps', '-a', '--external'] : ['ps', '-a'];
    const external = async () =>
      new Set((await runtime.exec([...psArgs, '--format', '{{.ID}} {{.Names}}'])).stdout.split('\n').filter((l) => l.trim()));
    const sleeping = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').some((a) => a.trim() === `sleep ${seconds}`);
    const before = await external();
    const started = Date.now();
    const build = ensureImage({ runtime, contextDir: dir, repoId, buildTimeoutMs: 4_000 });
    await waitFor(sleeping, 60_000, 'the RUN step to start');
    await assert.rejects(build, (err: unknown) => {
      assert.ok(err instanceof AirutError);
      assert.equal(err.code, 'IMAGE_BUILD_TIMEOUT');
      assert.match(err.message, /did not finish within 4 s and was stopped/);
      assert.match(err.message, new RegExp(`RUN sleep ${seconds}`), 'with the end of the build log');
      return true;
    });
    assert.ok(Date.now() - started < 4_000 + 30_000, 'stopped promptly, not after the sleep');
    if (rt.command === 'podman') {
      assert.equal(sleeping(), false, 'the RUN process is gone');
      const left = [...(await external())].filter((c) => !before.has(c) && /working-container/.test(c));
      assert.deepEqual(left, [], 'podman removed its working container');
    } else {
      // dockerd runs the step; it cancels it when the CLI goes away, a moment after the CLI exits,
      // and removes the step's container a moment after that.
      await waitFor(() => !sleeping(), 10_000, 'the RUN process to be gone');
      let left: string[] = [];
      for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
        left = [...(await external())].filter((c) => !before.has(c));
        if (left.length === 0) break;
      }
      assert.deepEqual(left, [], 'docker removed its build container');
    }
  });

  test('pruneImages removes only this owner\'s images the caller does not keep; labels come back from the runtime', async () => {
    const owner = `prune${randomBytes(3).toString('hex')}`;
    const build = async (name: string, labels: Record<string, string>) => {
      const dir = await context(name, { Dockerfile: `FROM scratch\nADD rootfs.tar /\nENV STEP=${name}-${owner}\n` });
      await copyFile(await testRootfsTarball(), join(dir, 'rootfs.tar'));
      return (await ensureImage({ runtime, contextDir: dir, repoId, labels })).tag;
    };
    const old = await build('prune-old', { instance: owner });
    const current = await build('prune-current', { instance: owner });
    const others = await build('prune-other', { instance: `${owner}x` });
    const report = await pruneImages(runtime, { owner: { instance: owner }, keep: (i) => i.tag === current });
    assert.deepEqual(report.removed.map((i) => i.tag), [old]);
    assert.equal(report.removed[0]!.labels['repo'], repoId);
    assert.deepEqual(report.failed, []);
    assert.equal(await runtime.imageExists(old), false);
    assert.equal(await runtime.imageExists(current), true);
    assert.equal(await runtime.imageExists(others), true, 'another owner\'s image is not touched');
  });

  test('removing a missing image or container is not an error', async () => {
    await runtime.removeImage(`airut-${repoId}:0000000000000000`);
    await runtime.removeContainer(`airut-no-such-container-${repoId}`);
    await runtime.stopContainer(`airut-no-such-container-${repoId}`, 0);
    assert.equal(await runtime.imageExists(`airut-${repoId}:0000000000000000`), false);
  });
}

for (const c of runtimeCases()) {
  describe(`ensureImage with ${c.command}`, { skip: c.skip }, () => {
    before(() => {
      rt = c;
      runtime = c.runtime();
      suiteDir = c.command;
    });
    after(async () => {
      // Layers of a stopped build are untagged (`<none>:<none>`) but carry the labels: remove those by id.
      for (const img of await runtime.listImages({ label: `airut.repo=${repoId}` })) await runtime.removeImage(img.tag === '<none>:<none>' ? img.id : img.tag);
    });
    ensureImageTests();
  });
}
