/**
 * The per-task Secret: the task's secrets, its container_env and the gateway token, which reach the
 * agent container only through `envFrom` (and the token through `secretKeyRef`), so nothing secret
 * is ever in the pod spec, which far more people can read. Pure.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { checkEnvName } from './spec-checks.ts';

/** The Secret key with the task's gateway token; the caller puts it in `secretEnv`. */
export const GATEWAY_TOKEN_KEY = 'AIRUT_GATEWAY_TOKEN';

export function buildTaskSecret(o: {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
}): V1Secret {
  const stringData: Record<string, string> = {};
  for (const [name, value] of Object.entries(o.env)) {
    checkEnvName(name, 'secret variable');
    stringData[name] = value;
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: o.name, namespace: o.namespace, labels: { ...o.labels } },
    type: 'Opaque',
    stringData,
  };
}
