/**
 * The Kubernetes objects of one task — its Secret, NetworkPolicy and Pod — built from what the
 * backend knows about the task, with the labels and names the reaper finds them by. Pure: the
 * backend creates them (Secret → NetworkPolicy → Pod) and deletes them by name or label.
 * Each object has its own module; this one ties names, labels and the three together.
 */
import type { V1NetworkPolicy, V1Pod, V1Secret } from '@kubernetes/client-node';
import { AirutError } from '../../errors.ts';
import { taskLabels, taskObjectNames, taskSelectorLabels } from './labels.ts';
import type { TaskObjectsInput } from './task-input.ts';
import { buildTaskNetworkPolicy } from './task-network-policy.ts';
import { buildTaskPod } from './task-pod.ts';
import { buildTaskFilesSecret, buildTaskSecret } from './task-secret.ts';

export type { KubeResources, TaskObjectsInput } from './task-input.ts';
export { AGENT_CONTAINER, INIT_CONTAINER } from './task-pod.ts';
export { instanceSelector, taskIdOf, taskObjectNames, taskSelector } from './labels.ts';

export interface TaskObjects {
  readonly pod: V1Pod;
  readonly secret: V1Secret;
  /** The files Secret mounted at /etc/airut; null when the task has no files. */
  readonly filesSecret: V1Secret | null;
  readonly networkPolicy: V1NetworkPolicy;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function buildTaskObjects(input: TaskObjectsInput): TaskObjects {
  if (!DNS_LABEL.test(input.namespace)) throw new AirutError('SANDBOX_SPEC_INVALID', `namespace ${JSON.stringify(input.namespace)} is not a valid Kubernetes namespace name (kubernetes.namespace)`);
  const names = taskObjectNames(input.instance, input.taskId);
  const labels = taskLabels(input.instance, input.taskId, input.labels);
  const secret = buildTaskSecret({ name: names.secret, namespace: input.namespace, labels, env: input.secretEnv });
  const networkPolicy = buildTaskNetworkPolicy({
    name: names.networkPolicy,
    namespace: input.namespace,
    labels,
    podSelector: taskSelectorLabels(input.instance, input.taskId),
    gateway: input.gateway,
  });
  const files = input.files ?? {};
  const filesSecret = Object.keys(files).length > 0 ? buildTaskFilesSecret({ name: names.filesSecret, namespace: input.namespace, labels, files }) : null;
  const pod = buildTaskPod(input, { name: names.pod, secretName: names.secret, filesSecretName: filesSecret ? names.filesSecret : null, labels });
  return { pod, secret, filesSecret, networkPolicy };
}
