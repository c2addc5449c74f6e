/**
 * How one container of a pod spec becomes `podman create` arguments, for PodmanPodRunner. Pure: the
 * runner supplies the host directory of each emptyDir and the env file; this only translates.
 *
 * Only what Airut's pods use is translated; anything else in a spec (another volume kind, a
 * `fieldRef`, a probe) is refused or ignored as noted, so a test cannot pass on a field the stand-in
 * silently dropped when that field matters to isolation.
 */
import path from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';

/** Binary and decimal suffixes of a Kubernetes quantity, as multipliers of bytes. */
const QUANTITY_SUFFIX: Readonly<Record<string, number>> = {
  '': 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** A memory quantity (`512Mi`, `1G`, `2147483648`) in whole bytes, for `--memory`. */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m) throw new Error(`memory quantity "${quantity}" is not one the stand-in reads`);
  return Math.ceil(Number(m[1]) * QUANTITY_SUFFIX[m[2] ?? '']!);
}

/** A CPU quantity (`500m`, `2`, `1.5`) as the decimal `--cpus` takes. */
export function cpus(quantity: string): string {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(quantity);
  if (!m) throw new Error(`cpu quantity "${quantity}" is not one the stand-in reads`);
  return String(m[2] ? Number(m[1]) / 1000 : Number(m[1]));
}

/**
 * The container's environment as the kubelet builds it: every key of each `envFrom` secret in order,
 * then `env` (which wins). A missing secret or key is an error, as for a pod without `optional: true`.
 */
export function containerEnv(c: V1Container, secret: (name: string) => Record<string, string> | null): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) throw new Error(`container ${c.name}: envFrom configMapRef is not supported by the stand-in`);
    const ref = from.secretRef;
    if (!ref?.name) continue;
    const data = secret(ref.name);
    if (data === null) {
      if (ref.optional) continue;
      throw new Error(`container ${c.name}: secret "${ref.name}" not found`);
    }
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined || !e.valueFrom) {
      env[e.name] = e.value ?? '';
      continue;
    }
    const ref = e.valueFrom.secretKeyRef;
    if (!ref) throw new Error(`container ${c.name}: env ${e.name} uses a valueFrom the stand-in does not support`);
    const value = ref.name ? secret(ref.name)?.[ref.key] : undefined;
    if (value === undefined) {
      if (ref.optional) continue;
      throw new Error(`container ${c.name}: env ${e.name}: key "${ref.key}" of secret "${ref.name ?? ''}" not found`);
    }
    env[e.name] = value;
  }
  return env;
}

/** A subPath as Kubernetes accepts it: relative, no `..` element. */
export function checkSubPath(subPath: string): string {
  if (path.isAbsolute(subPath) || subPath.split('/').includes('..')) throw new Error(`subPath "${subPath}" must be relative without ".."`);
  return subPath;
}

/** `--volume` flags for the container's mounts; `volumeDirs` maps each emptyDir volume's name to its host dir. */
export function mountArgs(c: V1Container, volumeDirs: ReadonlyMap<string, string>): string[] {
  const args: string[] = [];
  for (const m of c.volumeMounts ?? []) {
    const dir = volumeDirs.get(m.name);
    if (dir === undefined) throw new Error(`container ${c.name}: volume "${m.name}" is not an emptyDir of this pod`);
    const source = m.subPath ? path.join(dir, checkSubPath(m.subPath)) : dir;
    args.push('--volume', `${source}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`);
  }
  return args;
}

/** Capabilities, no-new-privileges and the user: container settings over the pod's. */
export function securityArgs(pod: V1Pod, c: V1Container): string[] {
  const args: string[] = [];
  const sc = c.securityContext ?? {};
  const psc = pod.spec?.securityContext ?? {};
  for (const cap of sc.capabilities?.drop ?? []) args.push(`--cap-drop=${cap}`);
  for (const cap of sc.capabilities?.add ?? []) args.push(`--cap-add=${cap}`);
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt=no-new-privileges');
  if (sc.privileged) throw new Error(`container ${c.name}: privileged containers are not run by the stand-in`);
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  if (uid !== undefined) args.push('--user', gid === undefined ? String(uid) : `${uid}:${gid}`);
  if (psc.fsGroup !== undefined) args.push('--group-add', String(psc.fsGroup));
  return args;
}

/** `--memory`/`--cpus` from the container's limits (requests have no podman counterpart). */
export function resourceArgs(c: V1Container): string[] {
  const limits = c.resources?.limits ?? {};
  const args: string[] = [];
  if (limits.memory !== undefined) args.push('--memory', String(memoryBytes(String(limits.memory))));
  if (limits.cpu !== undefined) args.push('--cpus', cpus(String(limits.cpu)));
  return args;
}

/**
 * The whole `podman create` argument list. `--network host`: the stand-in cannot enforce a
 * NetworkPolicy, so the pod reaches whatever the host reaches (the gateway included, which is what
 * the tests need); the policy object itself is asserted on as stored, not as enforced.
 */
export function createArgs(o: {
  readonly pod: V1Pod;
  readonly container: V1Container;
  readonly name: string;
  readonly envFile: string;
  readonly volumeDirs: ReadonlyMap<string, string>;
  readonly image: string;
}): string[] {
  const c = o.container;
  const args = ['create', '--rm=false', '--name', o.name, '--network', 'host', '--env-file', o.envFile];
  if (c.workingDir) args.push('--workdir', c.workingDir);
  args.push(...mountArgs(c, o.volumeDirs), ...securityArgs(o.pod, c), ...resourceArgs(c));
  // Kubernetes' command replaces the entrypoint and drops the image's CMD; podman's --entrypoint does the same.
  if (c.command && c.command.length > 0) args.push(`--entrypoint=${JSON.stringify(c.command)}`);
  args.push(o.image, ...(c.args ?? []));
  return args;
}
