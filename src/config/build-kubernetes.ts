/**
 * The Kubernetes side of the configuration: the top-level `kubernetes:` section and each
 * repository's resolved pod resources. Split from build.ts so each file builds one part. The rules
 * (rules-kubernetes.ts) have already checked every value; this only fills in defaults and names.
 */
import { DEFAULTS } from './defaults.ts';
import { expandPath } from './fs-path.ts';
import { podmanMemoryToQuantity } from './quantity.ts';
import type { RawKubeResources, RawKubernetes, RawRepo, RawServerConfig, RawToleration } from './raw.ts';
import type { ContainerLimits, KubernetesConfig, KubernetesResources, KubernetesToleration, RepoKubernetesConfig } from './types.ts';

function toleration(t: RawToleration): KubernetesToleration {
  return {
    key: t.key ?? null,
    // Kubernetes' own default: a toleration with a value matches it.
    operator: t.operator ?? 'Equal',
    value: t.value ?? null,
    effect: t.effect ?? null,
    tolerationSeconds: t.toleration_seconds ?? null,
  };
}

export function buildKubernetes(raw: RawKubernetes | null | undefined, configDir: string): KubernetesConfig | null {
  if (!raw) return null;
  return {
    kubeconfigPath: raw.kubeconfig ? expandPath(raw.kubeconfig, configDir) : null,
    context: raw.context ?? null,
    namespace: raw.namespace,
    registry: raw.registry.replace(/\/+$/, ''),
    registryTlsVerify: raw.registry_tls_verify ?? DEFAULTS.kubeRegistryTlsVerify,
    imagePullSecrets: [...(raw.image_pull_secrets ?? [])],
    runtimeClassName: raw.runtime_class ?? null,
    nodeSelector: { ...(raw.node_selector ?? {}) },
    tolerations: (raw.tolerations ?? []).map(toleration),
    stateSizeLimit: raw.state_size_limit ?? DEFAULTS.kubeStateSizeLimit,
    maxStateBytes: raw.max_state_bytes ?? DEFAULTS.kubeMaxStateBytes,
    gateway: {
      listenHost: raw.gateway.listen_host ?? DEFAULTS.kubeGatewayListenHost,
      listenPort: raw.gateway.listen_port ?? DEFAULTS.kubeGatewayListenPort,
      advertiseAddress: raw.gateway.advertise_address.trim(),
    },
    resources: mergeResources(raw.resources, null),
  };
}

type Side = 'requests' | 'limits';
type Kind = 'cpu' | 'memory';

/** Key by key (requests.cpu, limits.memory, …): the repository's value, else the top level's. */
export function mergeResources(repo: RawKubeResources | null | undefined, top: RawKubeResources | null | undefined): KubernetesResources {
  const out: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
  for (const side of ['requests', 'limits'] as const satisfies readonly Side[]) {
    for (const kind of ['cpu', 'memory'] as const satisfies readonly Kind[]) {
      const value = repo?.[side]?.[kind] ?? top?.[side]?.[kind];
      if (value !== undefined) (out[side] ??= {})[kind] = value;
    }
  }
  return out;
}

/**
 * A repository's pod resources: `repos.<id>.kubernetes.resources` over `kubernetes.resources`;
 * a limit neither sets comes from the repository's `resource_limits`, so moving a repository to
 * Kubernetes keeps the memory and CPU it had under podman.
 */
export function buildRepoKubernetes(raw: RawRepo, top: RawServerConfig, limits: ContainerLimits): RepoKubernetesConfig {
  const merged = mergeResources(raw.kubernetes?.resources, top.kubernetes?.resources);
  return {
    resources: {
      ...merged,
      limits: {
        cpu: merged.limits?.cpu ?? String(limits.cpus),
        memory: merged.limits?.memory ?? podmanMemoryToQuantity(limits.memory),
      },
    },
    runAsUser: raw.kubernetes?.run_as_user ?? null,
  };
}
