/**
 * The task's pod: an init container from the tools image that copies busybox, Claude Code and the
 * entry script into the `tools` emptyDir and fetches the state bundle into the `state` emptyDir,
 * then the agent container from the repository image that runs them. Pure.
 *
 * What is deliberately absent: the prompt, the claude arguments and every secret (anyone who may
 * read pods would see them; they travel in the state bundle and the Secret), the service-account
 * token, service links (no cluster addresses leak into the environment), and any writable host path.
 */
import type { V1Container, V1EnvVar, V1PodSecurityContext, V1ResourceRequirements, V1SecurityContext, V1Pod, V1VolumeMount } from '@kubernetes/client-node';
import { AirutError } from '../../errors.ts';
import type { KubeResources, TaskObjectsInput } from './task-input.ts';
import { GATEWAY_TOKEN_KEY } from './task-secret.ts';
import { checkCapabilities, checkEnvName, checkImageByDigest, checkQuantity, gatewayEndpoint } from './spec-checks.ts';

export const AGENT_CONTAINER = 'agent';
export const INIT_CONTAINER = 'airut-tools';
export const TERMINATION_GRACE_SECONDS = 20;

const ENTRY = ['/airut/busybox', 'sh', '/airut/pod-entry.sh'];
/** The init container only copies files and downloads one tar: small and fixed. */
const INIT_RESOURCES: V1ResourceRequirements = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } };
/** Where each part of the conversation state lives in the agent container (subPaths of `state`). */
const STATE_MOUNTS: ReadonlyArray<readonly [subPath: string, mountPath: string]> = [
  ['workspace', '/workspace'], ['claude', '/root/.claude'], ['inbox', '/inbox'], ['outbox', '/outbox'], ['storage', '/storage'],
];
const GATEWAY_VARS = new Set(['AIRUT_GATEWAY', 'AIRUT_TASK', GATEWAY_TOKEN_KEY]);
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

function invalid(message: string): AirutError {
  return new AirutError('SANDBOX_SPEC_INVALID', message);
}

function containerSecurity(capabilities: string[]): V1SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: capabilities.length > 0 ? { drop: ['ALL'], add: capabilities } : { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

function podSecurity(runAsUser: number | null): V1PodSecurityContext {
  const base: V1PodSecurityContext = { seccompProfile: { type: 'RuntimeDefault' } };
  if (runAsUser === null) return base;
  if (!Number.isSafeInteger(runAsUser) || runAsUser < 1) throw invalid(`run_as_user ${String(runAsUser)} must be a user id above 0: the pod runs it with runAsNonRoot`);
  return { ...base, runAsUser, runAsGroup: runAsUser, runAsNonRoot: true, fsGroup: runAsUser };
}

function quantities(q: { readonly cpu?: string; readonly memory?: string } | undefined, where: string): Record<string, string> | undefined {
  if (q === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const key of ['cpu', 'memory'] as const) {
    const v = q[key];
    if (v === undefined) continue;
    checkQuantity(v, `${where}.${key}`);
    out[key] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function agentResources(r: KubeResources): V1ResourceRequirements {
  const requests = quantities(r.requests, 'kubernetes.resources.requests');
  const limits = quantities(r.limits, 'kubernetes.resources.limits');
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

/** The variables the entry script needs to reach the gateway; the token only by reference to the Secret. */
function gatewayEnv(input: TaskObjectsInput, secretName: string): V1EnvVar[] {
  if (!Object.hasOwn(input.secretEnv, GATEWAY_TOKEN_KEY)) throw invalid(`the task's secret variables lack ${GATEWAY_TOKEN_KEY}; the pod could not authenticate to the pod gateway`);
  return [
    { name: 'AIRUT_GATEWAY', value: gatewayEndpoint(input.gateway).hostPort },
    { name: 'AIRUT_TASK', value: String(input.taskId) },
    { name: GATEWAY_TOKEN_KEY, valueFrom: { secretKeyRef: { name: secretName, key: GATEWAY_TOKEN_KEY } } },
  ];
}

function plainEnv(env: Readonly<Record<string, string>>): V1EnvVar[] {
  return Object.entries(env).map(([name, value]) => {
    checkEnvName(name, 'sandbox variable');
    if (GATEWAY_VARS.has(name)) throw invalid(`sandbox variable ${name} is set by the Kubernetes backend itself`);
    return { name, value };
  });
}

function initContainer(input: TaskObjectsInput, env: V1EnvVar[], security: V1SecurityContext): V1Container {
  checkImageByDigest(input.toolsImage, 'tools image');
  return {
    name: INIT_CONTAINER,
    image: input.toolsImage,
    imagePullPolicy: 'IfNotPresent',
    command: [...ENTRY, 'fetch'],
    env,
    resources: INIT_RESOURCES,
    securityContext: security,
    volumeMounts: [{ name: 'tools', mountPath: '/tools' }, { name: 'state', mountPath: '/airut-state' }],
  };
}

/** Where the files Secret is mounted in the agent container. */
export const FILES_DIR = '/etc/airut';

function agentContainer(input: TaskObjectsInput, env: V1EnvVar[], secretName: string, withFiles: boolean, security: V1SecurityContext): V1Container {
  checkImageByDigest(input.image, 'repository image');
  const mounts: V1VolumeMount[] = [
    { name: 'tools', mountPath: '/airut', readOnly: true },
    ...STATE_MOUNTS.map(([subPath, mountPath]) => ({ name: 'state', mountPath, subPath })),
    { name: 'state', mountPath: '/airut-state' },
    ...(withFiles ? [{ name: 'files', mountPath: FILES_DIR, readOnly: true }] : []),
  ];
  return {
    name: AGENT_CONTAINER,
    image: input.image,
    imagePullPolicy: 'IfNotPresent',
    command: [...ENTRY, input.kind === 'command' ? 'command' : 'run'],
    workingDir: '/workspace',
    // `env` wins over `envFrom` in Kubernetes: the sandbox's own variables cannot be overridden by a task's.
    env: [...env, ...plainEnv(input.plainEnv)],
    envFrom: [{ secretRef: { name: secretName } }],
    resources: agentResources(input.resources),
    securityContext: security,
    volumeMounts: mounts,
  };
}

function deadlineSeconds(timeoutMs: number): number {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalid(`task timeout ${String(timeoutMs)} ms is not a positive duration`);
  return Math.ceil(timeoutMs / 1000);
}

/** Scheduling fields from the configuration, each only when set. */
function placement(input: TaskObjectsInput): Partial<NonNullable<V1Pod['spec']>> {
  const out: Partial<NonNullable<V1Pod['spec']>> = {};
  if (input.runtimeClassName !== null) {
    if (!DNS_SUBDOMAIN.test(input.runtimeClassName)) throw invalid(`runtime class ${JSON.stringify(input.runtimeClassName)} is not a valid RuntimeClass name (kubernetes.runtime_class)`);
    out.runtimeClassName = input.runtimeClassName;
  }
  if (Object.keys(input.nodeSelector).length > 0) out.nodeSelector = { ...input.nodeSelector };
  if (input.tolerations.length > 0) out.tolerations = input.tolerations.map((t) => ({ ...t }));
  if (input.imagePullSecrets.length > 0) {
    out.imagePullSecrets = input.imagePullSecrets.map((name) => {
      if (!DNS_SUBDOMAIN.test(name)) throw invalid(`image pull secret ${JSON.stringify(name)} is not a valid Secret name (kubernetes.image_pull_secrets)`);
      return { name };
    });
  }
  return out;
}

export function buildTaskPod(input: TaskObjectsInput, o: { readonly name: string; readonly secretName: string; readonly filesSecretName?: string | null; readonly labels: Readonly<Record<string, string>> }): V1Pod {
  const security = containerSecurity(checkCapabilities(input.capabilities));
  const env = gatewayEnv(input, o.secretName);
  if (input.stateSizeLimit !== null) checkQuantity(input.stateSizeLimit, 'kubernetes.state_size_limit');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: input.namespace, labels: { ...o.labels } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      activeDeadlineSeconds: deadlineSeconds(input.timeoutMs),
      terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
      securityContext: podSecurity(input.runAsUser),
      ...placement(input),
      initContainers: [initContainer(input, env, security)],
      containers: [agentContainer(input, env, o.secretName, !!o.filesSecretName, security)],
      volumes: [
        { name: 'tools', emptyDir: {} },
        { name: 'state', emptyDir: input.stateSizeLimit === null ? {} : { sizeLimit: input.stateSizeLimit } },
        ...(o.filesSecretName ? [{ name: 'files', secret: { secretName: o.filesSecretName, defaultMode: 0o444 } }] : []),
      ],
    },
  };
}
