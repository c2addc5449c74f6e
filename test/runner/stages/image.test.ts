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
