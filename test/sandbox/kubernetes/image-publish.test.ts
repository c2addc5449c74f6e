/**
 * Publishing an image to a real registry (test/harness/registry.ts) with real podman and Docker: the
 * digest reference pulls and runs once the local copy is gone; a registry that does not answer, and
 * addresses or tags that cannot name a remote image, fail with IMAGE_PUSH_FAILED.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AirutError } from '../../../src/errors.ts';
import type { ContainerRuntime } from '../../../src/sandbox/container-runtime.ts';
import { checkRegistry, publishImage, splitLocalTag } from '../../../src/sandbox/kubernetes/image-publish.ts';
import { freePort } from '../../harness/ports.ts';
import { LocalRegistry } from '../../harness/registry.ts';
import { runtimeCases } from '../../harness/runtimes.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';

function isPushFailed(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof AirutError, String(err));
    assert.equal(err.code, 'IMAGE_PUSH_FAILED');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('image names', () => {
  test('a local tag splits into name and tag; podman’s localhost/ prefix goes, a missing tag is latest', () => {
    assert.deepEqual(splitLocalTag('airut-repo:abc123'), { name: 'airut-repo', tag: 'abc123' });
    assert.deepEqual(splitLocalTag('localhost/airut-repo:abc123'), { name: 'airut-repo', tag: 'abc123' });
    assert.deepEqual(splitLocalTag('airut/tools'), { name: 'airut/tools', tag: 'latest' });
  });

  test('a local tag that cannot name a remote image is refused', () => {
    for (const bad of ['', 'Airut:1', 'airut:', '-x:1', 'a b:1', 'airut:t@g', 'airut@sha256:00', '../x:1']) {
      assert.throws(() => splitLocalTag(bad), isPushFailed(/not a local name:tag/), bad);
    }
  });

  test('registry addresses: host[:port][/path] only; schemes, credentials and options are refused without echoing a password', () => {
    for (const ok of ['127.0.0.1:5000', 'registry.example.com', 'registry.example.com/team/sub', '[::1]:5000', 'localhost:5000']) {
      assert.equal(checkRegistry(ok), ok);
    }
    for (const bad of ['', 'https://r.example.com', 'user:pw@r.example.com', '-r.example.com', 'r.example.com:5000/UPPER', 'r example', 'r.example.com/']) {
      assert.throws(() => checkRegistry(bad), isPushFailed(/host\[:port\]\[\/path\]/), bad);
    }
    assert.throws(
      () => checkRegistry('https://admin:s3cret@r.example.com'),
      (err: unknown) => err instanceof AirutError && !err.message.includes('s3cret'),
    );
  });
});

for (const rt of runtimeCases()) {
  describe(`publishing with ${rt.command}`, { skip: rt.skip }, () => {
    let registry: LocalRegistry;
    let runtime: ContainerRuntime;
    const name = `airut-pubtest-${randomBytes(4).toString('hex')}`;
    const localTag = `${name}:v1`;
    const created: string[] = [localTag];

    before(async () => {
      runtime = rt.runtime();
      registry = await LocalRegistry.start();
      const ctx = exitTempDir('airut-pubtest-ctx-');
      await mkdir(join(ctx, 'bin'));
      await copyFile('/bin/busybox', join(ctx, 'bin/busybox'));
      await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY bin/busybox /bin/busybox\nENTRYPOINT ["/bin/busybox"]\n');
      await runtime.buildImage({ contextDir: ctx, tag: localTag });
    });

    after(async () => {
      for (const ref of created) await runtime.exec(['rmi', '-f', ref]);
      await registry?.close();
    });

    test('the digest reference is pullable after the local copy is removed, and runs', async () => {
      const published = await publishImage(runtime, { localTag, registry: registry.address, tlsVerify: false });
      created.push(published.remote, published.digestRef);
      assert.equal(published.remote, `${registry.address}/${name}:v1`);
      assert.match(published.digestRef, new RegExp(`^${registry.address.replace(/\./g, '\\.')}/${name}@sha256:[0-9a-f]{64}$`));

      for (const ref of [localTag, published.remote]) assert.equal((await runtime.exec(['rmi', '-f', ref])).exitCode, 0);
      assert.equal(await runtime.imageExists(published.digestRef), false);

      const tls = rt.command === 'podman' ? ['--tls-verify=false'] : [];
      const pull = await runtime.exec(['pull', ...tls, published.digestRef]);
      assert.equal(pull.exitCode, 0, pull.stderr);
      const run = await runtime.exec(['run', '--rm', published.digestRef, 'echo', 'published']);
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(run.stdout.trim(), 'published');
    });

    test('a registry that does not answer fails with IMAGE_PUSH_FAILED naming the registry and the runtime’s complaint', async () => {
      await runtime.buildImage({ contextDir: await tinyContext(), tag: `${name}:v2` });
      created.push(`${name}:v2`);
      const dead = `127.0.0.1:${await freePort()}`;
      created.push(`${dead}/${name}:v2`);
      await assert.rejects(
        publishImage(runtime, { localTag: `${name}:v2`, registry: dead, tlsVerify: false, timeoutMs: 60_000 }),
        isPushFailed(new RegExp(`registry ${dead.replace(/\./g, '\\.')} with ${rt.command} failed: push exited with \\d+:\\n.*(refused|connect)`, 's')),
      );
    });

    test('a local image that does not exist fails with IMAGE_PUSH_FAILED at tagging', async () => {
      await assert.rejects(
        publishImage(runtime, { localTag: `${name}:missing`, registry: registry.address, tlsVerify: false }),
        isPushFailed(/tagging exited with \d+/),
      );
    });
  });
}

async function tinyContext(): Promise<string> {
  const ctx = exitTempDir('airut-pubtest-ctx-');
  await copyFile('/bin/busybox', join(ctx, 'busybox'));
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nLABEL v=2\n');
  return ctx;
}
