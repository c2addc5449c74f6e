/**
 * The network side of the sandbox for one task: a small "sidecar" container that owns a network
 * namespace with nothing in it but loopback, and runs src/sandbox/sidecar/netns-forwarder.mjs
 * there. The task container joins that namespace (`--network container:<sidecar>`), so the only
 * things it can reach are the forwarder's ports, which lead to the conversation proxy through Unix
 * sockets in a directory mounted into the sidecar alone.
 *
 * Why not an internal podman network with the proxy on it: on an internal bridge the host's
 * gateway address is still reachable, so every host service bound to 0.0.0.0 would be a way
 * around the proxy, and rootless and rootful podman differ in what that bridge can see. A namespace
 * with only loopback has no route anywhere by construction, works the same rootless and rootful,
 * needs no network to create or delete, and lets the proxy run inside the daemon where the
 * allowlist, the masked secrets and the request log already are.
 *
 * The sidecar's root filesystem is a directory the daemon prepares (no image to pull): the forwarder
 * script, plus the host's own node binary and the shared libraries it needs, bind-mounted read-only.
 * podman runs it as it is (`--rootfs`); Docker needs an image, made from it once (sidecar-image.ts).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AirutError } from '../errors.ts';
import type { ContainerRuntime } from './container-runtime.ts';
import { managedLabels } from './labels.ts';
import { sidecarRootArgs } from './sidecar-image.ts';
import { PROXY_SOCKETS } from '../proxy/conversation-proxy.ts';

const execFileAsync = promisify(execFile);

const FORWARDER_SOURCE = fileURLToPath(new URL('./sidecar/netns-forwarder.mjs', import.meta.url));
const IN_SIDECAR = { node: '/airut/node', script: '/airut/netns-forwarder.mjs', sockets: '/run/airut' } as const;
/** Linux's limit for a Unix socket path is 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 100;

/** What every sidecar of this daemon runs from; prepared once at start-up. Structured-cloneable. */
export interface SidecarRuntime {
  readonly rootfs: string;
  /** Read-only bind mounts: the node binary and its shared libraries. */
  readonly binds: readonly { readonly source: string; readonly target: string }[];
}

/** The state directory's sandbox area: CA, sidecar root filesystem, per-task directories. */
export function sandboxStateDir(databasePath: string): string {
  return path.join(path.dirname(databasePath), 'sandbox');
}

export function taskSandboxDir(stateDir: string, taskId: number): string {
  return path.join(stateDir, 'tasks', String(taskId));
}

/** Where task containers' short-lived env files are written (see env-file.ts); emptied at start-up. */
export function envFileDir(stateDir: string): string {
  return path.join(stateDir, 'env');
}

/**
 * Builds the sidecar root filesystem under `stateDir` from the node binary running the daemon.
 * Idempotent; called at every start so an upgraded node or forwarder is picked up.
 */
export async function prepareSidecarRuntime(stateDir: string, nodePath = process.execPath): Promise<SidecarRuntime> {
  const rootfs = path.join(stateDir, 'sidecar-rootfs');
  const node = await fs.realpath(nodePath);
  const binds: { source: string; target: string }[] = [{ source: node, target: IN_SIDECAR.node }];
  for (const lib of await sharedLibraries(node)) binds.push({ source: await fs.realpath(lib), target: lib });
  try {
    for (const dir of ['airut', 'etc', 'proc', 'dev', 'sys', 'tmp', 'run/airut']) await fs.mkdir(path.join(rootfs, dir), { recursive: true });
    for (const file of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname', 'etc/passwd', 'etc/group']) {
      await fs.writeFile(path.join(rootfs, file), file === 'etc/passwd' ? 'root:x:0:0:root:/:/airut/node\n' : file === 'etc/group' ? 'root:x:0:\n' : '');
    }
    for (const b of binds) {
      const target = path.join(rootfs, b.target);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, '', { flag: 'a' });
    }
    await fs.copyFile(FORWARDER_SOURCE, path.join(rootfs, IN_SIDECAR.script));
  } catch (err) {
    throw new AirutError('SANDBOX_PREPARE_FAILED', `could not prepare the network sidecar in ${rootfs}: ${(err as Error).message}`, { cause: err });
  }
  return { rootfs, binds };
}

/** The shared libraries (and the loader) a dynamically linked binary needs, from `ldd`. */
async function sharedLibraries(binary: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('ldd', [binary], { timeout: 10_000 }));
  } catch (err) {
    const text = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(text)) return [];
    throw new AirutError('SANDBOX_PREPARE_FAILED', `could not list the libraries of ${binary} with ldd: ${(err as Error).message}`);
  }
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

export interface SidecarSpec {
  readonly runtime: ContainerRuntime;
  readonly sidecar: SidecarRuntime;
  /** Container name, e.g. `airut-net-<instance>-<task>`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Host directory with the proxy's sockets; mounted into the sidecar only. */
  readonly socketDir: string;
  /** Host patterns the in-namespace DNS answers for (every other name gets NXDOMAIN). */
  readonly hostPatterns: readonly string[];
  /** How long to wait for the forwarder to listen. Default 15 s. */
  readonly readyTimeoutMs?: number;
}

export interface RunningSidecar {
  /** The value for the task container's `--network`. */
  readonly network: string;
  /** Stops and removes the sidecar. Safe to call more than once. */
  stop(): Promise<void>;
}

export async function startNetworkSidecar(spec: SidecarSpec): Promise<RunningSidecar> {
  const { runtime, name } = spec;
  const longest = path.join(spec.socketDir, PROXY_SOCKETS.explicit);
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new AirutError(
      'SANDBOX_PATH_TOO_LONG',
      `the proxy socket path ${longest} is longer than ${MAX_SOCKET_PATH} bytes (a Unix socket limit); move the database (and with it the sandbox state) to a shorter path`,
    );
  }
  await fs.writeFile(path.join(spec.socketDir, 'sidecar.json'), JSON.stringify({ hostPatterns: spec.hostPatterns }));
  await fs.rm(path.join(spec.socketDir, 'ready'), { force: true });
  await runtime.removeContainer(name);

  const args = ['run', '-d', '--name', name];
  args.push(...runtime.labelArgs(managedLabels({ ...spec.labels, role: 'network-sidecar' })));
  args.push(
    '--network',
    'none',
    '--read-only',
    '--cap-drop=ALL',
    // Ports 53, 80 and 443 are below 1024.
    '--cap-add=NET_BIND_SERVICE',
    '--security-opt',
    'no-new-privileges',
    '--memory',
    '256m',
    '--pids-limit',
    '64',
    '-e',
    'NODE_OPTIONS=',
    '-v',
    `${spec.socketDir}:${IN_SIDECAR.sockets}`,
  );
  for (const b of spec.sidecar.binds) args.push('-v', `${b.source}:${b.target}:ro`);
  args.push(...(await sidecarRootArgs(runtime, spec.sidecar.rootfs)), IN_SIDECAR.node, IN_SIDECAR.script);
  await runtime.execOk(args, `start network sidecar ${name}`);

  const stop = async () => {
    await runtime.stopContainer(name, 1).catch(() => undefined);
    await runtime.removeContainer(name).catch(() => undefined);
  };
  try {
    await waitForReady(spec, runtime);
  } catch (err) {
    await stop();
    throw err;
  }
  return { network: `container:${name}`, stop };
}

async function waitForReady(spec: SidecarSpec, runtime: ContainerRuntime): Promise<void> {
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 15_000);
  const readyFile = path.join(spec.socketDir, 'ready');
  for (;;) {
    if (await fs.stat(readyFile).then(() => true, () => false)) return;
    if (Date.now() > deadline) {
      const logs = await runtime.exec(['logs', '--tail', '20', spec.name]).then((r) => `${r.stdout}${r.stderr}`.trim(), () => '');
      throw new AirutError(
        'SANDBOX_SIDECAR_FAILED',
        `the network sidecar ${spec.name} did not become ready${logs ? `; its output:\n${logs}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
