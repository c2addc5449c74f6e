/**
 * What the Kubernetes backend gets from the configuration, as plain structured-cloneable data
 * (runner threads receive it once in their workerData). The config layer resolves every default;
 * nothing here reads a file or knows the YAML.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import type { KubernetesConfig } from '../../config/types.ts';

/** Requests and limits of a container, as Kubernetes quantities; a key left out is not set. */
export interface KubeResources {
  readonly requests?: { readonly cpu?: string; readonly memory?: string };
  readonly limits?: { readonly cpu?: string; readonly memory?: string };
}

/** One repository's pod settings, carried on each run request (`AgentRunRequest.kube`). */
export interface KubeRunSettings {
  readonly resources: KubeResources;
  /** null: the image's user. */
  readonly runAsUser: number | null;
}

export interface KubernetesSettings {
  /** null kubeconfigPath: the in-cluster service account. */
  readonly connection: { readonly kubeconfigPath: string | null; readonly context: string | null; readonly namespace: string };
  readonly registry: string;
  readonly registryTlsVerify: boolean;
  readonly imagePullSecrets: readonly string[];
  readonly runtimeClassName: string | null;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly V1Toleration[];
  /** The state emptyDir's sizeLimit, a quantity. */
  readonly stateSizeLimit: string;
  readonly maxStateBytes: number;
  readonly gateway: { readonly listenHost: string; readonly listenPort: number; readonly advertiseAddress: string };
}

/** The sandbox's view of the `kubernetes:` section (defaults already resolved by src/config/build-kubernetes.ts). */
export function kubernetesSettings(c: KubernetesConfig): KubernetesSettings {
  return {
    connection: { kubeconfigPath: c.kubeconfigPath, context: c.context, namespace: c.namespace },
    registry: c.registry,
    registryTlsVerify: c.registryTlsVerify,
    imagePullSecrets: [...c.imagePullSecrets],
    runtimeClassName: c.runtimeClassName,
    nodeSelector: { ...c.nodeSelector },
    // A pod spec leaves unset fields out rather than sending nulls.
    tolerations: c.tolerations.map((t) => ({
      ...(t.key === null ? {} : { key: t.key }),
      operator: t.operator,
      ...(t.value === null ? {} : { value: t.value }),
      ...(t.effect === null ? {} : { effect: t.effect }),
      ...(t.tolerationSeconds === null ? {} : { tolerationSeconds: t.tolerationSeconds }),
    })),
    stateSizeLimit: c.stateSizeLimit,
    maxStateBytes: c.maxStateBytes,
    gateway: { ...c.gateway },
  };
}
