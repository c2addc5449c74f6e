/**
 * The per-task Secret: the task's secrets, its container_env and the gateway token, which reach the
 * agent container only through `envFrom` (and the token through `secretKeyRef`), so nothing secret
 * is ever in the pod spec, which far more people can read. Pure.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { AirutError } from '../../errors.ts';
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
  return opaqueSecret(o, stringData);
}

const FILE_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

/** The per-task files Secret: each key is a file name under /etc/airut in the agent container. */
export function buildTaskFilesSecret(o: {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly files: Readonly<Record<string, string>>;
}): V1Secret {
  for (const name of Object.keys(o.files)) {
    if (!FILE_KEY.test(name) || name === '.' || name === '..') throw new AirutError('SANDBOX_SPEC_INVALID', `file name ${JSON.stringify(name.slice(0, 80))} cannot be a key of the task's files Secret`);
  }
  return opaqueSecret(o, { ...o.files });
}

function opaqueSecret(o: { readonly name: string; readonly namespace: string; readonly labels: Readonly<Record<string, string>> }, stringData: Record<string, string>): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: o.name, namespace: o.namespace, labels: { ...o.labels } },
    type: 'Opaque',
    stringData,
  };
}
