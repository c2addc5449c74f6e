/** What the Kubernetes backend knows about a task when it builds the task's objects (task-objects.ts). */
import type { V1Toleration } from '@kubernetes/client-node';

export interface KubeResources {
  readonly requests?: { readonly cpu?: string; readonly memory?: string };
  readonly limits?: { readonly cpu?: string; readonly memory?: string };
}

export interface TaskObjectsInput {
  readonly namespace: string;
  readonly instance: string;
  readonly taskId: number;
  /** Caller labels: repo, conversation (raw ids; sanitized by the builder). */
  readonly labels: Readonly<Record<string, string>>;
  /** 'agent': runs Claude Code; 'command': runs a schedule's trigger_command (pod-entry.sh "command"). */
  readonly kind: 'agent' | 'command';
  /** Repository image, by digest. */
  readonly image: string;
  /** Tools image, by digest. */
  readonly toolsImage: string;
  /** Secrets + container_env + proxy URLs with token → the Secret (must include AIRUT_GATEWAY_TOKEN). */
  readonly secretEnv: Readonly<Record<string, string>>;
  /** Non-secret sandbox variables → pod env (wins over the Secret's). */
  readonly plainEnv: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly resources: KubeResources;
  readonly capabilities: readonly string[];
  readonly runAsUser: number | null;
  readonly runtimeClassName: string | null;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly V1Toleration[];
  readonly imagePullSecrets: readonly string[];
  /** emptyDir sizeLimit of the state volume, a quantity. */
  readonly stateSizeLimit: string | null;
  /**
   * Files the agent container gets read-only under /etc/airut (the proxy's CA, the git config), by
   * file name; they travel in a second Secret mounted as a volume. Default none.
   */
  readonly files?: Readonly<Record<string, string>>;
  /** IPv4/IPv6 literal and TCP port of the daemon's pod gateway. */
  readonly gateway: { readonly address: string; readonly port: number };
}
