/** Stage 3: the image from `.airut/container/`, built by the backend (a fake here). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AirutError } from '../../../src/errors.ts';
import { imageStage } from '../../../src/runner/stages/image.ts';
import { fakeContext } from './fake-context.ts';

test('the backend builds from the exported context; the tag is recorded before it is used; the context is removed', async () => {
  const ctx = fakeContext();
  let seen: string[] = [];
  ctx.backend.ensureImage = async (spec) => {
    seen = fs.readdirSync(spec.contextDir);
    spec.onTag?.('airut-api:1234');
    ctx.backend.images.push(spec);
    return { tag: 'airut-api:1234', built: true, log: '' };
  };
  assert.equal(await imageStage(ctx), 'airut-api:1234');
  assert.deepEqual(seen, ['Dockerfile']);
  const spec = ctx.backend.images[0]!;
  assert.equal(spec.repoId, 'api');
  assert.equal(spec.buildTimeoutMs, 600_000);
  assert.equal(spec.maxAgeHours, 24, 'execution.image_max_age_hours reaches the build');
  assert.deepEqual(ctx.store.imagesRecorded, ['airut-api:1234']);
  assert.equal(fs.existsSync(spec.contextDir), false, 'the build context is removed');
  assert.equal(fs.existsSync(path.join(ctx.repo.storageDir, 'image-build.lock')), false, 'the build lock is released');
});

test('no Dockerfile on the default branch: the sender is told, nothing is built', async () => {
  const ctx = fakeContext();
  ctx.mirror.files.delete('.airut/container/Dockerfile');
  await assert.rejects(imageStage(ctx), { code: 'IMAGE_CONTEXT_MISSING', message: /no `\.airut\/container\/Dockerfile`/ });
  assert.equal(ctx.backend.images.length, 0);
});

test('a Containerfile is a build context too', async () => {
  const ctx = fakeContext();
  ctx.mirror.files.delete('.airut/container/Dockerfile');
  ctx.mirror.files.set('.airut/container/Containerfile', 'FROM scratch\n');
  assert.equal(await imageStage(ctx), 'airut-test:abc');
});

test('a build that times out or fails is explained, with the limit in words', async () => {
  const slow = fakeContext();
  slow.backend.imageError = new AirutError('IMAGE_BUILD_TIMEOUT', 'build log tail');
  await assert.rejects(imageStage(slow), (err: AirutError & { userMessage: string }) => {
    assert.equal(err.code, 'IMAGE_BUILD_TIMEOUT');
    assert.match(err.userMessage, /took longer than 10 minutes/);
    assert.match(err.userMessage, /build log tail$/);
    return true;
  });
  const base = fakeContext();
  const odd = fakeContext({ settings: { ...base.settings, imageBuildTimeoutSeconds: 90 } });
  odd.backend.imageError = new AirutError('IMAGE_BUILD_TIMEOUT', 'x');
  await assert.rejects(imageStage(odd), { message: /took longer than 90 seconds/ });

  const broken = fakeContext();
  broken.backend.imageError = new Error('RUN step 2 failed');
  await assert.rejects(imageStage(broken), { code: 'IMAGE_BUILD_FAILED', message: /^Building the container image failed:\n\nRUN step 2 failed$/ });
});

test('container_path: the build context comes from the directory the operator named, such as .devcontainer', async () => {
  const ctx = fakeContext();
  (ctx as { repo: typeof ctx.repo }).repo = { ...ctx.repo, containerPath: '.devcontainer' };
  ctx.mirror.files.set('.devcontainer/Dockerfile', 'FROM scratch\n');
  assert.equal(await imageStage(ctx), 'airut-test:abc');
  const missing = fakeContext();
  (missing as { repo: typeof missing.repo }).repo = { ...missing.repo, containerPath: 'tools/image' };
  await assert.rejects(imageStage(missing), { code: 'IMAGE_CONTEXT_MISSING', message: /no `tools\/image\/Dockerfile`.*container_path: tools\/image/s });
});

test('the next task on the same container tree reuses the image without export, hash or backend call; the tag is recorded again', async () => {
  const first = fakeContext();
  first.backend.ensureImage = async (spec) => {
    first.backend.images.push(spec);
    spec.onTag?.('airut-api:1234');
    return { tag: 'registry.test/airut-api@sha256:aa', built: true, log: '' };
  };
  assert.equal(await imageStage(first), 'registry.test/airut-api@sha256:aa');
  // A second task of the same thread (fakeContext() forgets, so reuse its mirror and backend).
  const second = { ...first, store: { ...first.store, imagesRecorded: [] as string[], recordImage(tag: string) { this.imagesRecorded.push(tag); } } };
  assert.equal(await imageStage(second as typeof first), 'registry.test/airut-api@sha256:aa', 'the run tag (a digest reference with Kubernetes) is reused');
  assert.equal(first.backend.images.length, 1, 'no second backend call');
  assert.deepEqual(second.store.imagesRecorded, ['airut-api:1234'], 'the local tag is recorded, so the image GC keeps the image');

  first.mirror.files.set('.airut/container/Dockerfile', 'FROM scratch\nRUN true\n');
  await imageStage(first);
  assert.equal(first.backend.images.length, 2, 'a changed container directory is checked again');
});

test('nothing is remembered when a refresh failed or the branch moved while the context was read', async () => {
  const stale = fakeContext();
  stale.backend.ensureImage = async (spec) => {
    stale.backend.images.push(spec);
    spec.onTag?.('airut-api:1');
    return { tag: 'airut-api:1', built: false, log: '', staleRebuildError: 'mirror down' };
  };
  await imageStage(stale);
  await imageStage(stale);
  assert.equal(stale.backend.images.length, 2, 'the next task tries the refresh again');

  const moving = fakeContext();
  moving.backend.ensureImage = async (spec) => {
    moving.backend.images.push(spec);
    moving.mirror.files.set('.airut/container/Dockerfile', `FROM scratch\n# ${moving.backend.images.length}\n`);
    spec.onTag?.('airut-api:2');
    return { tag: 'airut-api:2', built: true, log: '' };
  };
  await imageStage(moving);
  await imageStage(moving);
  assert.equal(moving.backend.images.length, 2, 'an image is never filed under a tree it was not built from');
});

test('tasks of one thread that wait behind the first for the build lock take its answer', async () => {
  const ctx = fakeContext();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  ctx.backend.ensureImage = async (spec) => {
    ctx.backend.images.push(spec);
    spec.onTag?.('airut-api:9');
    await gate;
    return { tag: 'airut-api:9', built: true, log: '' };
  };
  const runs = [imageStage(ctx), imageStage(ctx), imageStage(ctx)];
  await new Promise((r) => setTimeout(r, 50));
  release();
  assert.deepEqual(await Promise.all(runs), ['airut-api:9', 'airut-api:9', 'airut-api:9']);
  assert.equal(ctx.backend.images.length, 1, 'one backend call for three tasks');
});
