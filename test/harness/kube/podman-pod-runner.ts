/**
 * Runs a pod for real in the Kubernetes stand-in: its init containers in order, then its first
 * regular container, each a podman container named `airut-standin-<pod>-<container>`. Each emptyDir
 * volume is a temp dir (0777, so a non-root `runAsUser` can write it); the pod's images are pulled
 * by their references (`--tls-verify=false` unless asked otherwise: test registries speak plain HTTP)
 * unless already present.
 *
 * A container is created, then started detached, then followed with `podman logs --follow`: the env
 * file holding the Secret's values is gone before anything runs, and "started" is a fact (start
 * returned) before the stand-in is told. A stop that arrives while podman is still starting the
 * container is repeated once start has returned, so an abort is never lost in that window.
 *
 * Not enforced: NetworkPolicy (every container runs with `--network host`), seccomp profiles other
 * than podman's default, `activeDeadlineSeconds` (the stand-in aborts the signal for it).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { tailLines, type ContainerRuntime } from '../../../src/sandbox/container-runtime.ts';
import { formatEnvFile, writeEnvFile } from '../../../src/sandbox/env-file.ts';
import { testRuntime } from '../podman-env.ts';
import { checkSubPath, containerEnv, createArgs } from './podman-container-args.ts';
import type { PodRunContext, PodRunner, PodRunResult } from './pod-runner.ts';

const DEFAULT_GRACE_SECONDS = 20;

/** One pod's run: its temp dir, volumes and the containers made so far (removed at the end). */
interface PodRun {
  readonly ctx: PodRunContext;
  readonly root: string;
  readonly volumeDirs: ReadonlyMap<string, string>;
  readonly containers: string[];
}

export class PodmanPodRunner implements PodRunner {
  readonly #tlsVerify: boolean;
  readonly #runtime: ContainerRuntime;

  constructor(o: { tlsVerify?: boolean; runtime?: ContainerRuntime } = {}) {
    this.#tlsVerify = o.tlsVerify ?? false;
    this.#runtime = o.runtime ?? testRuntime();
  }

  async run(ctx: PodRunContext): Promise<PodRunResult> {
    const spec = ctx.pod.spec;
    const main = spec?.containers[0];
    if (!spec || !main) throw new Error(`pod ${podName(ctx.pod)} has no containers`);
    const sequence = [...(spec.initContainers ?? []).map((c) => ({ c, init: true })), { c: main, init: false }];
    const root = await mkdtemp(join(tmpdir(), 'airut-standin-pod-'));
    const run: PodRun = { ctx, root, volumeDirs: await makeVolumes(ctx.pod, root, ctx.secret), containers: [] };
    try {
      for (const image of new Set(sequence.map(({ c }) => c.image ?? ''))) await this.#ensureImage(image);
      for (const { c, init } of sequence) {
        if (ctx.signal.aborted) return { container: c.name, exitCode: 137, reason: 'Error', message: 'the pod was stopped before this container started' };
        const result = await this.#runContainer(run, c);
        if (!init || result.exitCode !== 0) return result;
      }
      throw new Error('unreachable: the main container always returns');
    } finally {
      for (const name of run.containers) await this.#runtime.removeContainer(name).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    }
  }

  async #ensureImage(image: string): Promise<void> {
    if (image === '') throw new Error('a container of the pod has no image');
    if (await this.#runtime.imageExists(image)) return;
    const tls = this.#tlsVerify ? [] : ['--tls-verify=false'];
    const r = await this.#runtime.exec(['pull', '--quiet', ...tls, image], { timeoutMs: 600_000 });
    if (r.exitCode !== 0) throw new Error(`podman pull ${image} failed: ${tailLines(r.stderr, 5)}`);
  }

  /** Creates, starts and follows one container; resolves with its exit once it has ended. */
  async #runContainer(run: PodRun, c: V1Container): Promise<PodRunResult> {
    const { ctx } = run;
    const name = `airut-standin-${podName(ctx.pod)}-${c.name}`;
    await this.#runtime.removeContainer(name); // left by a crashed earlier run
    run.containers.push(name);
    const created = await this.#create(run, c, name);
    if (created !== null) return created;

    const grace = ctx.pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    const stop = (): void => void this.#runtime.stopContainer(name, grace).catch(() => undefined);
    ctx.signal.addEventListener('abort', stop, { once: true });
    try {
      const start = await this.#runtime.exec(['start', name]);
      if (start.exitCode !== 0) return { container: c.name, exitCode: 128, reason: 'StartError', message: tailLines(start.stderr, 5) };
      ctx.containerStarted(c.name);
      if (ctx.signal.aborted) stop();
      await this.#follow(name, (chunk) => ctx.log(c.name, chunk));
      return await this.#exitOf(name, c.name);
    } finally {
      ctx.signal.removeEventListener('abort', stop);
    }
  }

  /** `podman create` with the env in a 0600 file removed right after; a result when the container cannot be made. */
  async #create(run: PodRun, c: V1Container, name: string): Promise<PodRunResult | null> {
    let envText: string;
    try {
      envText = formatEnvFile(containerEnv(c, run.ctx.secret));
    } catch (err) {
      return { container: c.name, exitCode: 128, reason: 'CreateContainerConfigError', message: (err as Error).message };
    }
    for (const m of c.volumeMounts ?? []) {
      const dir = run.volumeDirs.get(m.name);
      if (m.subPath && dir !== undefined) await makeDir(join(dir, checkSubPath(m.subPath)));
    }
    const envFile = await writeEnvFile(join(run.root, 'env'), envText);
    try {
      const args = createArgs({ pod: run.ctx.pod, container: c, name, envFile: envFile.path, volumeDirs: run.volumeDirs, image: c.image ?? '' });
      const r = await this.#runtime.exec(args);
      if (r.exitCode !== 0) return { container: c.name, exitCode: 128, reason: 'CreateContainerError', message: tailLines(r.stderr, 5) };
      return null;
    } finally {
      await envFile.remove();
    }
  }

  /** Streams the container's stdout and stderr until it exits (podman's k8s-file log keeps what came before). */
  #follow(name: string, onChunk: (chunk: Buffer) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.#runtime.command, ['logs', '--follow', name], {
        env: this.#runtime.processEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.on('data', onChunk);
      child.stderr.on('data', onChunk);
      child.once('error', reject);
      child.once('close', () => resolve());
    });
  }

  /** The ended container's exit code, and the reason Kubernetes would give. */
  async #exitOf(name: string, container: string): Promise<PodRunResult> {
    const wait = await this.#runtime.exec(['wait', name], { timeoutMs: 600_000 });
    if (wait.exitCode !== 0) throw new Error(`podman wait ${name} failed: ${tailLines(wait.stderr, 5)}`);
    const r = await this.#runtime.exec(['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', name]);
    const [code = '', oom = ''] = r.stdout.trim().split(' ');
    const exitCode = Number(code);
    if (r.exitCode !== 0 || !Number.isInteger(exitCode)) throw new Error(`cannot read the exit code of ${name}: ${tailLines(r.stderr, 5)}`);
    const reason = oom === 'true' ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
    return { container, exitCode, reason };
  }
}

function podName(pod: V1Pod): string {
  const name = pod.metadata?.name;
  if (!name) throw new Error('the pod has no metadata.name');
  return name;
}

/** mkdir -p with mode 0777 whatever the umask: containers may run as any user. */
async function makeDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o777);
}

/** A host dir per emptyDir volume; any other volume kind is refused (Airut's pods have none). */
async function makeVolumes(pod: V1Pod, root: string, secret: PodRunContext['secret']): Promise<Map<string, string>> {
  const dirs = new Map<string, string>();
  for (const v of pod.spec?.volumes ?? []) {
    const dir = join(root, 'volumes', v.name);
    await makeDir(dir);
    dirs.set(v.name, dir);
    if (v.emptyDir) continue;
    if (!v.secret?.secretName) throw new Error(`volume "${v.name}" is neither an emptyDir nor a Secret; the stand-in runs those only`);
    // A Secret volume as the kubelet projects it: one file per key, read-only for everyone.
    const data = secret(v.secret.secretName);
    if (!data) throw new Error(`volume "${v.name}": secret "${v.secret.secretName}" does not exist`);
    for (const [key, value] of Object.entries(data)) {
      if (!/^[-._a-zA-Z0-9]+$/.test(key) || key === '.' || key === '..') throw new Error(`secret key "${key}" is not a file name`);
      await writeFile(join(dir, key), value, { mode: v.secret.defaultMode ?? 0o644 });
    }
  }
  return dirs;
}
