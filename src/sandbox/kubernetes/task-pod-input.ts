/**
 * What every task pod shares, whatever it runs: the Kubernetes objects' input built from the
 * backend's settings and one request's image, environment, limits and network. The agent and the
 * trigger command differ only in `kind` and in what their state bundle carries.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { AirutError } from '../../errors.ts';
import type { ExtraMount } from '../execution-backend.ts';
import type { ResourceLimits } from '../container-args.ts';
import { CONTAINER_CA_PATH } from '../task-network.ts';
import type { KubeNetworkParts } from './kube-network.ts';
import type { KubeResources, KubernetesSettings } from './settings.ts';
import type { TaskObjectsInput } from './task-objects.ts';

/** Where files the pod gets from the daemon are (the proxy's CA, the git config): one Secret volume. */
export const POD_FILES_DIR = path.posix.dirname(CONTAINER_CA_PATH);

/** Set by the sandbox for Claude Code itself, as run-agent.ts does for containers. */
const AGENT_ENV: Readonly<Record<string, string>> = {
  IS_SANDBOX: '1',
  CLAUDE_CONFIG_DIR: '/root/.claude',
  CLAUDE_CODE_MAX_RETRIES: '0',
  CLAUDE_CODE_DISABLE_BACKGROUND_TASKS: '1',
};

export interface PodRequestParts {
  readonly kind: 'agent' | 'command';
  readonly taskId: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
  readonly sandboxEnv: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly limits?: ResourceLimits;
  readonly capabilities?: readonly string[];
  readonly kube?: { readonly resources: KubeResources; readonly runAsUser: number | null };
  readonly extraMounts?: readonly ExtraMount[];
}

/** The pod's resources: the repository's `kubernetes.resources`, else its container limits. */
export function podResources(parts: Pick<PodRequestParts, 'kube' | 'limits'>): KubeResources {
  const own = parts.kube?.resources;
  if (own && (own.requests || own.limits)) return own;
  if (!parts.limits) return {};
  return { limits: { memory: dockerMemoryToQuantity(parts.limits.memory), cpu: parts.limits.cpus } };
}

/** `2g` / `512m` (container runtime syntax) → `2Gi` / `512Mi`. */
export function dockerMemoryToQuantity(memory: string): string {
  const m = /^(\d+)([bkmg]?)$/i.exec(memory.trim());
  if (!m) return memory;
  const unit = m[2]!.toLowerCase();
  return unit === '' || unit === 'b' ? m[1]! : `${m[1]}${unit.toUpperCase()}i`;
}

/** Files mounted read-only from the host become entries of the pod's files Secret under /etc/airut. */
export async function podFiles(extraMounts: readonly ExtraMount[], net: KubeNetworkParts | null): Promise<Record<string, string>> {
  const files: Record<string, string> = { ...(net?.files ?? {}) };
  for (const m of extraMounts) {
    if (path.posix.dirname(m.target) !== POD_FILES_DIR) {
      throw new AirutError('SANDBOX_SPEC_INVALID', `a task pod can only get files under ${POD_FILES_DIR}, not at ${m.target}`);
    }
    files[path.posix.basename(m.target)] = await fs.readFile(m.source, 'utf8');
  }
  return files;
}

export function taskObjectsInput(
  settings: KubernetesSettings,
  o: { readonly instance: string; readonly toolsImage: string; readonly token: string; readonly net: KubeNetworkParts | null; readonly files: Readonly<Record<string, string>> },
  parts: PodRequestParts,
): TaskObjectsInput {
  return {
    namespace: settings.connection.namespace,
    instance: o.instance,
    taskId: parts.taskId,
    labels: parts.labels,
    kind: parts.kind,
    image: parts.image,
    toolsImage: o.toolsImage,
    // The sandbox's proxy URLs come last: a task variable of the same name must not replace them.
    secretEnv: { ...parts.env, ...(o.net?.secretEnv ?? {}), AIRUT_GATEWAY_TOKEN: o.token },
    plainEnv: { ...(parts.kind === 'agent' ? AGENT_ENV : {}), ...parts.sandboxEnv },
    files: o.files,
    timeoutMs: parts.timeoutMs,
    resources: podResources(parts),
    capabilities: parts.capabilities ?? [],
    runAsUser: parts.kube?.runAsUser ?? null,
    runtimeClassName: settings.runtimeClassName,
    nodeSelector: settings.nodeSelector,
    tolerations: settings.tolerations,
    imagePullSecrets: settings.imagePullSecrets,
    stateSizeLimit: settings.stateSizeLimit,
    gateway: { address: settings.gateway.advertiseAddress, port: settings.gateway.listenPort },
  };
}
