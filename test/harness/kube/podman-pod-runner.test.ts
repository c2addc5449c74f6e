/**
 * PodmanPodRunner against real podman: a hand-written pod (busybox FROM scratch) whose init container
 * writes into an emptyDir the agent container reads, env from a Secret, a subPath mount, the security
 * settings; log lines, exit codes, a failing init container, a missing secret and a stop all come back
 * as Kubernetes would report them, and no container is left behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { publishImage } from '../../../src/sandbox/kubernetes/image-publish.ts';
import { testRuntime } from '../podman-env.ts';
import { LocalRegistry } from '../registry.ts';
import { exitTempDir } from '../temp-dirs.ts';
import { checkSubPath, containerEnv, cpus, createArgs, memoryBytes } from './podman-container-args.ts';
import { PodmanPodRunner } from './podman-pod-runner.ts';
import type { PodRunContext, PodRunResult } from './pod-runner.ts';

const runtime = testRuntime();
const image = `airut-standin-busybox-${randomBytes(4).toString('hex')}:1`;
const SECRETS: Record<string, Record<string, string>> = {
  'task-env': { GREETING: 'hello from the secret', TOKEN: 's3cret', OVERRIDDEN: 'from-secret' },
};

/** A pod run's observations: logs per container, started containers in order, and waiters on log text. */
class Observed {
  readonly logs = new Map<string, string>();
  readonly started: string[] = [];
  readonly #waiters: Array<{ container: string; text: string; resolve: () => void }> = [];
  readonly controller = new AbortController();

  context(pod: V1Pod): PodRunContext {
    return {
      pod,
      secret: (name) => SECRETS[name] ?? null,
      waiting: () => undefined,
      log: (container, chunk) => {
        this.logs.set(container, (this.logs.get(container) ?? '') + chunk.toString('utf8'));
        for (const w of this.#waiters) if (w.container === container && this.log(container).includes(w.text)) w.resolve();
      },
      containerStarted: (container) => void this.started.push(container),
      signal: this.controller.signal,
    };
  }

  log(container: string): string {
    return this.logs.get(container) ?? '';
  }

  /** Resolves once `text` has appeared in the container's log. */
  logged(container: string, text: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.log(container).includes(text)) resolve();
      else this.#waiters.push({ container, text, resolve });
    });
  }
}

function pod(name: string, init: Partial<V1Container>, agent: Partial<V1Container>, grace = 20): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'airut-test' },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: grace,
      securityContext: { runAsUser: 1000, runAsNonRoot: true, fsGroup: 1000 },
      volumes: [
        { name: 'tools', emptyDir: {} },
        { name: 'state', emptyDir: { sizeLimit: '1Gi' } },
      ],
      initContainers: [
        {
          name: 'airut-tools',
          image,
          command: ['/bin/busybox', 'sh', '-c', 'echo init-ran; echo "$GREETING" > /tools/greeting'],
          envFrom: [{ secretRef: { name: 'task-env' } }],
          volumeMounts: [{ name: 'tools', mountPath: '/tools' }],
          ...init,
        },
      ],
      containers: [
        {
          name: 'agent',
          image,
          command: ['/bin/busybox', 'sh', '-c'],
          args: ['echo agent-ran'],
          workingDir: '/workspace',
          envFrom: [{ secretRef: { name: 'task-env' } }],
          env: [
            { name: 'PLAIN', value: 'plain-value' },
            { name: 'OVERRIDDEN', value: 'from-env' },
            { name: 'ONE_KEY', valueFrom: { secretKeyRef: { name: 'task-env', key: 'TOKEN' } } },
          ],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
          resources: { limits: { memory: '256Mi', cpu: '500m' }, requests: { memory: '64Mi', cpu: '100m' } },
          volumeMounts: [
            { name: 'tools', mountPath: '/airut', readOnly: true },
            { name: 'state', mountPath: '/workspace', subPath: 'workspace' },
            { name: 'state', mountPath: '/airut-state' },
          ],
          ...agent,
        },
      ],
    },
  };
}

function uniqueName(): string {
  return `airut-t-${randomBytes(4).toString('hex')}`;
}

async function leftovers(podName: string): Promise<string> {
  const r = await runtime.exec(['ps', '-a', '--filter', `name=airut-standin-${podName}`, '--format', '{{.Names}}']);
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout.trim();
}

describe('pod spec → podman arguments', () => {
  test('quantities: memory in bytes, cpu as a decimal; anything else is refused', () => {
    assert.equal(memoryBytes('256Mi'), 256 * 1024 * 1024);
    assert.equal(memoryBytes('1G'), 1e9);
    assert.equal(memoryBytes('1.5Gi'), 1.5 * 1024 ** 3);
    assert.equal(memoryBytes('4096'), 4096);
    assert.equal(cpus('500m'), '0.5');
    assert.equal(cpus('2'), '2');
    for (const bad of ['', '1g', '-1Mi', '1 Mi', '1Ei']) assert.throws(() => memoryBytes(bad), /memory quantity/, bad);
    for (const bad of ['', '1.5m5', '-1', 'one']) assert.throws(() => cpus(bad), /cpu quantity/, bad);
  });

  test('env: envFrom keys, then env, which wins; a missing secret or key fails unless optional', () => {
    const secret = (n: string) => SECRETS[n] ?? null;
    const c = pod('p', {}, {}).spec!.containers[0]!;
    assert.deepEqual(containerEnv(c, secret), {
      GREETING: 'hello from the secret',
      TOKEN: 's3cret',
      OVERRIDDEN: 'from-env',
      PLAIN: 'plain-value',
      ONE_KEY: 's3cret',
    });
    assert.throws(() => containerEnv({ name: 'x', envFrom: [{ secretRef: { name: 'nope' } }] }, secret), /secret "nope" not found/);
    assert.deepEqual(containerEnv({ name: 'x', envFrom: [{ secretRef: { name: 'nope', optional: true } }] }, secret), {});
    assert.throws(
      () => containerEnv({ name: 'x', env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 'task-env', key: 'MISSING' } } }] }, secret),
      /key "MISSING" of secret "task-env" not found/,
    );
    assert.throws(() => containerEnv({ name: 'x', env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }, secret), /not support/);
  });

  test('subPaths that climb or are absolute are refused; mounts of unknown volumes too', () => {
    for (const bad of ['../x', 'a/../../x', '/etc', '..']) assert.throws(() => checkSubPath(bad), /must be relative/, bad);
    const p = pod('p', {}, { volumeMounts: [{ name: 'other', mountPath: '/x' }] });
    assert.throws(
      () => createArgs({ pod: p, container: p.spec!.containers[0]!, name: 'n', envFile: '/e', volumeDirs: new Map(), image }),
      /volume "other" is not an emptyDir/,
    );
  });

  test('security, resources, network, command: translated flag by flag', () => {
    const p = pod('p', {}, { securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['CHOWN'] } } });
    const dirs = new Map([
      ['tools', '/v/tools'],
      ['state', '/v/state'],
    ]);
    const args = createArgs({ pod: p, container: p.spec!.containers[0]!, name: 'n', envFile: '/e', volumeDirs: dirs, image });
    for (const want of [
      '--cap-drop=ALL',
      '--cap-add=CHOWN',
      '--security-opt=no-new-privileges',
      '--entrypoint=["/bin/busybox","sh","-c"]',
    ]) {
      assert.ok(args.includes(want), `${want} in ${args.join(' ')}`);
    }
    const pairs = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
    assert.deepEqual(pairs('--network'), ['host']);
    assert.deepEqual(pairs('--user'), ['1000']);
    assert.deepEqual(pairs('--group-add'), ['1000']);
    assert.deepEqual(pairs('--memory'), [String(256 * 1024 * 1024)]);
    assert.deepEqual(pairs('--cpus'), ['0.5']);
    assert.deepEqual(pairs('--volume'), ['/v/tools:/airut:ro', '/v/state/workspace:/workspace:rw', '/v/state:/airut-state:rw']);
    assert.deepEqual(args.slice(-2), [image, 'echo agent-ran']);
  });
});

describe('PodmanPodRunner with podman', () => {
  const runner = new PodmanPodRunner();

  before(async () => {
    const ctx = exitTempDir('airut-standin-img-');
    await copyFile('/bin/busybox', join(ctx, 'busybox'));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\n');
    await runtime.buildImage({ contextDir: ctx, tag: image });
  });

  after(async () => {
    await runtime.exec(['rmi', '-f', image]);
  });

  test('init writes into an emptyDir, the agent reads it; secret env, subPath, user and exit code come through', async () => {
    const name = uniqueName();
    const seen = new Observed();
    const script = [
      'cat /airut/greeting',
      'echo "token=$TOKEN one=$ONE_KEY plain=$PLAIN over=$OVERRIDDEN"',
      'echo "uid=$(id -u) pwd=$(pwd)"',
      'echo in-workspace > /workspace/note && cat /airut-state/workspace/note',
      'touch /airut/x 2>/dev/null || echo tools-read-only',
      'exit 7',
    ].join('; ');
    const result: PodRunResult = await runner.run(seen.context(pod(name, {}, { args: [script] })));
    assert.deepEqual(result, { container: 'agent', exitCode: 7, reason: 'Error' });
    assert.deepEqual(seen.started, ['airut-tools', 'agent']);
    assert.equal(seen.log('airut-tools'), 'init-ran\n');
    assert.equal(
      seen.log('agent'),
      'hello from the secret\ntoken=s3cret one=s3cret plain=plain-value over=from-env\nuid=1000 pwd=/workspace\nin-workspace\ntools-read-only\n',
    );
    assert.equal(await leftovers(name), '');
  });

  test('an exit 0 agent is Completed', async () => {
    const name = uniqueName();
    const seen = new Observed();
    assert.deepEqual(await runner.run(seen.context(pod(name, {}, {}))), { container: 'agent', exitCode: 0, reason: 'Completed' });
    assert.equal(seen.log('agent'), 'agent-ran\n');
    assert.equal(await leftovers(name), '');
  });

  test('an init container that fails ends the pod with its result; the agent never starts', async () => {
    const name = uniqueName();
    const seen = new Observed();
    const result = await runner.run(seen.context(pod(name, { command: ['/bin/busybox', 'sh', '-c', 'echo broken >&2; exit 3'] }, {})));
    assert.deepEqual(result, { container: 'airut-tools', exitCode: 3, reason: 'Error' });
    assert.deepEqual(seen.started, ['airut-tools']);
    assert.equal(seen.log('airut-tools'), 'broken\n');
    assert.equal(await leftovers(name), '');
  });

  test('a missing secret is a CreateContainerConfigError, as the kubelet reports it', async () => {
    const name = uniqueName();
    const seen = new Observed();
    const result = await runner.run(seen.context(pod(name, { envFrom: [{ secretRef: { name: 'gone' } }] }, {})));
    assert.equal(result.container, 'airut-tools');
    assert.equal(result.reason, 'CreateContainerConfigError');
    assert.match(result.message ?? '', /secret "gone" not found/);
    assert.deepEqual(seen.started, []);
    assert.equal(await leftovers(name), '');
  });

  test('abort stops the running agent with SIGTERM within the grace period; its handler’s exit code is the result', async () => {
    const name = uniqueName();
    const seen = new Observed();
    const script = 'trap "echo got-term; exit 143" TERM; echo ready; while :; do sleep 1; done';
    const running = runner.run(seen.context(pod(name, {}, { args: [script] }, 30)));
    await seen.logged('agent', 'ready');
    seen.controller.abort();
    assert.deepEqual(await running, { container: 'agent', exitCode: 143, reason: 'Error' });
    assert.equal(seen.log('agent'), 'ready\ngot-term\n');
    assert.equal(await leftovers(name), '');
  });

  test('a pod aborted before it ran starts nothing', async () => {
    const name = uniqueName();
    const seen = new Observed();
    seen.controller.abort();
    const result = await runner.run(seen.context(pod(name, {}, {})));
    assert.equal(result.container, 'airut-tools');
    assert.equal(result.exitCode, 137);
    assert.deepEqual(seen.started, []);
    assert.equal(await leftovers(name), '');
  });

  test('images are pulled by digest from a registry when not present locally', async () => {
    const registry = await LocalRegistry.start();
    const published = await publishImage(runtime, { localTag: image, registry: registry.address, tlsVerify: false });
    try {
      for (const ref of [published.remote, published.digestRef]) await runtime.exec(['rmi', '-f', ref]);
      assert.equal(await runtime.imageExists(published.digestRef), false);
      const name = uniqueName();
      const seen = new Observed();
      const p = pod(name, { image: published.digestRef }, { image: published.digestRef });
      assert.deepEqual(await runner.run(seen.context(p)), { container: 'agent', exitCode: 0, reason: 'Completed' });
      assert.equal(seen.log('agent'), 'agent-ran\n');
      assert.equal(await leftovers(name), '');
    } finally {
      for (const ref of [published.remote, published.digestRef]) await runtime.exec(['rmi', '-f', ref]);
      await registry.close();
    }
  });
});
