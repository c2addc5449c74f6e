/** The Pod, Secret and NetworkPolicy of a task: schema-valid in every variation, locked down, and free of secrets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { AirutError } from '../../../src/errors.ts';
import { AGENT_CONTAINER, INIT_CONTAINER, buildTaskObjects, taskObjectNames, type TaskObjectsInput } from '../../../src/sandbox/kubernetes/task-objects.ts';
import { validateKubeObject } from './schema-check.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const SECRETS = {
  AIRUT_GATEWAY_TOKEN: 'tok-Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbg',
  GH_TOKEN: 'ghp_secretvalue0123456789',
  HTTPS_PROXY: 'http://task-7:tok-Zm9vYmFyYmF6cXV4LXNlY3JldC10b2tlbg@10.0.0.5:8443',
  MULTI_LINE: '-----BEGIN KEY-----\nline two with "quotes" and $dollars\n-----END KEY-----',
};

function input(overrides: Partial<TaskObjectsInput> = {}): TaskObjectsInput {
  return {
    namespace: 'airut',
    instance: '0123456789ab',
    taskId: 7,
    labels: { repo: 'api', conversation: 'deadbeef' },
    kind: 'agent',
    image: `registry.example:5000/airut-api@${DIGEST}`,
    toolsImage: `registry.example:5000/airut-tools@${DIGEST}`,
    secretEnv: SECRETS,
    plainEnv: { IS_SANDBOX: '1', CLAUDE_CONFIG_DIR: '/root/.claude', CLAUDE_CODE_MAX_RETRIES: '0' },
    timeoutMs: 1_800_000,
    resources: {},
    capabilities: [],
    runAsUser: null,
    runtimeClassName: null,
    nodeSelector: {},
    tolerations: [],
    imagePullSecrets: [],
    stateSizeLimit: null,
    gateway: { address: '10.0.0.5', port: 8443 },
    ...overrides,
  };
}

/** Inputs that exercise every optional field and every awkward id. */
const VARIATIONS: Record<string, Partial<TaskObjectsInput>> = {
  minimal: {},
  'run as user': { runAsUser: 1000 },
  'IPv6 gateway': { gateway: { address: 'fd00::1:5', port: 443 } },
  'long ids': { instance: 'i'.repeat(200), taskId: Number.MAX_SAFE_INTEGER, labels: { repo: 'r'.repeat(300), conversation: 'c'.repeat(64) } },
  'hostile ids': { instance: 'Ünïcode/../inst ance', labels: { repo: '../../etc/passwd\n', conversation: '💥/-' } },
  'empty ids': { instance: '', labels: { repo: '', conversation: '-' } },
  'runtime class and placement': {
    runtimeClassName: 'gvisor',
    nodeSelector: { 'kubernetes.io/arch': 'amd64', pool: 'airut' },
    tolerations: [{ key: 'airut', operator: 'Equal', value: 'tasks', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }],
    imagePullSecrets: ['registry-cred'],
  },
  'resources and capabilities': {
    resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } },
    capabilities: ['CHOWN', 'SETUID', 'SETGID', 'CHOWN'],
    stateSizeLimit: '10Gi',
  },
  'limits only': { resources: { limits: { memory: '2G', cpu: '1.5' } } },
  'command kind': { kind: 'command', timeoutMs: 1 },
  'task id zero': { taskId: 0 },
};

function containers(pod: V1Pod): V1Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

function agent(pod: V1Pod): V1Container {
  const c = pod.spec?.containers.find((x) => x.name === AGENT_CONTAINER);
  assert.ok(c, 'agent container');
  return c;
}

function init(pod: V1Pod): V1Container {
  const c = pod.spec?.initContainers?.find((x) => x.name === INIT_CONTAINER);
  assert.ok(c, 'init container');
  return c;
}

function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof AirutError && e.code === 'SANDBOX_SPEC_INVALID' && pattern.test(e.message));
}

for (const [name, overrides] of Object.entries(VARIATIONS)) {
  test(`${name}: pod, secret and network policy validate against the Kubernetes schema`, () => {
    const objects = buildTaskObjects(input(overrides));
    validateKubeObject(objects.pod);
    validateKubeObject(objects.secret);
    validateKubeObject(objects.networkPolicy);
  });

  test(`${name}: every container is locked down and the pod has no token, no service links, a deadline`, () => {
    const i = input(overrides);
    const { pod } = buildTaskObjects(i);
    const spec = pod.spec!;
    assert.equal(spec.restartPolicy, 'Never');
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.enableServiceLinks, false);
    assert.equal(spec.terminationGracePeriodSeconds, 20);
    assert.equal(spec.activeDeadlineSeconds, Math.ceil(i.timeoutMs / 1000));
    assert.equal(spec.hostNetwork ?? false, false);
    assert.equal(spec.hostPID ?? false, false);
    const expectedAdd = [...new Set(i.capabilities)];
    assert.equal(containers(pod).length, 2);
    for (const c of containers(pod)) {
      const sc = c.securityContext!;
      assert.equal(sc.allowPrivilegeEscalation, false, c.name);
      assert.deepEqual(sc.capabilities?.drop, ['ALL'], c.name);
      assert.deepEqual(sc.capabilities?.add ?? [], expectedAdd, c.name);
      assert.deepEqual(sc.seccompProfile, { type: 'RuntimeDefault' }, c.name);
      assert.equal(sc.privileged ?? false, false, c.name);
      assert.equal(sc.readOnlyRootFilesystem, undefined, c.name);
    }
    if (i.runAsUser === null) {
      assert.equal(spec.securityContext?.runAsUser, undefined);
      assert.equal(spec.securityContext?.runAsNonRoot, undefined);
    } else {
      assert.deepEqual(
        { u: spec.securityContext?.runAsUser, g: spec.securityContext?.runAsGroup, nonRoot: spec.securityContext?.runAsNonRoot, fs: spec.securityContext?.fsGroup },
        { u: i.runAsUser, g: i.runAsUser, nonRoot: true, fs: i.runAsUser },
      );
    }
  });

  test(`${name}: no secret value appears anywhere in the pod or the network policy`, () => {
    const { pod, networkPolicy, secret } = buildTaskObjects(input(overrides));
    const visible = JSON.stringify(pod) + JSON.stringify(networkPolicy) + JSON.stringify(secret.metadata);
    for (const [key, value] of Object.entries(SECRETS)) assert.ok(!visible.includes(value), `${key}'s value leaked`);
    assert.deepEqual(secret.stringData, SECRETS);
    assert.equal(secret.data, undefined);
  });

  test(`${name}: names and labels are valid and the same on all three objects`, () => {
    const i = input(overrides);
    const { pod, secret, networkPolicy } = buildTaskObjects(i);
    const names = taskObjectNames(i.instance, i.taskId);
    assert.deepEqual([pod.metadata?.name, secret.metadata?.name, networkPolicy.metadata?.name], [names.pod, names.secret, names.networkPolicy]);
    for (const n of Object.values(names)) assert.match(n, /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
    for (const o of [pod, secret, networkPolicy]) {
      assert.equal(o.metadata?.namespace, 'airut');
      assert.deepEqual(o.metadata?.labels, pod.metadata?.labels);
    }
    const labels = pod.metadata!.labels!;
    assert.equal(labels['app.kubernetes.io/managed-by'], 'airut');
    assert.equal(labels['airut.dev/task'], String(i.taskId));
    for (const key of ['airut.dev/instance', 'airut.dev/repo', 'airut.dev/conversation']) assert.ok(key in labels, key);
    for (const v of Object.values(labels)) assert.match(v, /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/);
    assert.notEqual(labels['airut.dev/instance'], '', 'an empty instance is still told apart');
  });
}

test('the network policy selects exactly the task pod, denies ingress and allows egress only to the gateway', () => {
  const { pod, networkPolicy } = buildTaskObjects(input());
  const spec = networkPolicy.spec!;
  const selector = spec.podSelector?.matchLabels ?? {};
  for (const [k, v] of Object.entries(selector)) assert.equal(pod.metadata?.labels?.[k], v, k);
  assert.deepEqual(Object.keys(selector).sort(), ['airut.dev/instance', 'airut.dev/task', 'app.kubernetes.io/managed-by']);
  assert.deepEqual(spec.policyTypes, ['Ingress', 'Egress']);
  assert.deepEqual(spec.ingress ?? [], []);
  assert.deepEqual(spec.egress, [{ to: [{ ipBlock: { cidr: '10.0.0.5/32' } }], ports: [{ protocol: 'TCP', port: 8443 }] }]);
});

test('an IPv6 gateway is reached at [addr]:port and allowed as a /128', () => {
  const { pod, networkPolicy } = buildTaskObjects(input({ gateway: { address: 'fd00::1:5', port: 443 } }));
  assert.deepEqual(networkPolicy.spec?.egress?.[0]?.to, [{ ipBlock: { cidr: 'fd00::1:5/128' } }]);
  assert.equal(init(pod).env?.find((e) => e.name === 'AIRUT_GATEWAY')?.value, '[fd00::1:5]:443');
});

test('the init container copies tools and fetches state; the agent runs with tools read-only and state in subPaths', () => {
  const { pod } = buildTaskObjects(input());
  const i = init(pod);
  assert.equal(i.image, `registry.example:5000/airut-tools@${DIGEST}`);
  assert.equal(i.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(i.command, ['/airut/busybox', 'sh', '/airut/pod-entry.sh', 'fetch']);
  assert.deepEqual(i.volumeMounts, [{ name: 'tools', mountPath: '/tools' }, { name: 'state', mountPath: '/airut-state' }]);
  assert.deepEqual(i.resources, { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
  const a = agent(pod);
  assert.equal(a.image, `registry.example:5000/airut-api@${DIGEST}`);
  assert.deepEqual(a.command, ['/airut/busybox', 'sh', '/airut/pod-entry.sh', 'run']);
  assert.equal(a.workingDir, '/workspace');
  assert.deepEqual(a.volumeMounts, [
    { name: 'tools', mountPath: '/airut', readOnly: true },
    { name: 'state', mountPath: '/workspace', subPath: 'workspace' },
    { name: 'state', mountPath: '/root/.claude', subPath: 'claude' },
    { name: 'state', mountPath: '/inbox', subPath: 'inbox' },
    { name: 'state', mountPath: '/outbox', subPath: 'outbox' },
    { name: 'state', mountPath: '/storage', subPath: 'storage' },
    { name: 'state', mountPath: '/airut-state' },
  ]);
  assert.deepEqual(pod.spec?.volumes, [{ name: 'tools', emptyDir: {} }, { name: 'state', emptyDir: {} }]);
  assert.deepEqual(agent(buildTaskObjects(input({ kind: 'command' })).pod).command, ['/airut/busybox', 'sh', '/airut/pod-entry.sh', 'command']);
});

test('prompt and claude arguments are not in the pod: the agent has a fixed command and no args', () => {
  const a = agent(buildTaskObjects(input()).pod);
  assert.equal(a.args, undefined);
});

test('secrets reach the agent only by envFrom and secretKeyRef; sandbox variables are plain env after the gateway ones', () => {
  const { pod } = buildTaskObjects(input());
  const names = taskObjectNames('0123456789ab', 7);
  const a = agent(pod);
  assert.deepEqual(a.envFrom, [{ secretRef: { name: names.secret } }]);
  const tokenRef = { name: 'AIRUT_GATEWAY_TOKEN', valueFrom: { secretKeyRef: { name: names.secret, key: 'AIRUT_GATEWAY_TOKEN' } } };
  const gatewayVars = [{ name: 'AIRUT_GATEWAY', value: '10.0.0.5:8443' }, { name: 'AIRUT_TASK', value: '7' }, tokenRef];
  assert.deepEqual(init(pod).env, gatewayVars);
  assert.equal(init(pod).envFrom, undefined, 'the init container gets only the token, not every secret');
  assert.deepEqual(a.env, [...gatewayVars, { name: 'IS_SANDBOX', value: '1' }, { name: 'CLAUDE_CONFIG_DIR', value: '/root/.claude' }, { name: 'CLAUDE_CODE_MAX_RETRIES', value: '0' }]);
});

test('resources, state size limit and placement appear only when configured', () => {
  const plain = buildTaskObjects(input()).pod.spec!;
  for (const key of ['runtimeClassName', 'nodeSelector', 'tolerations', 'imagePullSecrets'] as const) assert.equal(plain[key], undefined, key);
  assert.deepEqual(agent(buildTaskObjects(input()).pod).resources, {});
  const full = buildTaskObjects(input(VARIATIONS['runtime class and placement'])).pod.spec!;
  assert.equal(full.runtimeClassName, 'gvisor');
  assert.deepEqual(full.imagePullSecrets, [{ name: 'registry-cred' }]);
  assert.equal(full.tolerations?.length, 2);
  const res = buildTaskObjects(input(VARIATIONS['resources and capabilities'])).pod;
  assert.deepEqual(agent(res).resources, { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } });
  assert.deepEqual(res.spec?.volumes?.[1], { name: 'state', emptyDir: { sizeLimit: '10Gi' } });
});

test('the deadline is the task timeout rounded up to whole seconds', () => {
  assert.equal(buildTaskObjects(input({ timeoutMs: 1 })).pod.spec?.activeDeadlineSeconds, 1);
  assert.equal(buildTaskObjects(input({ timeoutMs: 60_001 })).pod.spec?.activeDeadlineSeconds, 61);
  assert.equal(buildTaskObjects(input({ timeoutMs: 60_000 })).pod.spec?.activeDeadlineSeconds, 60);
});

test('a secret variable with an invalid name is refused, naming the variable but never its value', () => {
  for (const bad of ['1ABC', 'A-B', 'A B', '', 'Ä', 'A=B']) {
    const value = 'the-secret-value-must-not-leak';
    assert.throws(
      () => buildTaskObjects(input({ secretEnv: { ...SECRETS, [bad]: value } })),
      (e: unknown) => e instanceof AirutError && e.code === 'SANDBOX_SPEC_INVALID' && e.message.includes(JSON.stringify(bad)) && !e.message.includes(value),
      bad,
    );
  }
});

test('hostile or inconsistent inputs are refused with a clear error', () => {
  rejects(() => buildTaskObjects(input({ secretEnv: { GH_TOKEN: 'x' } })), /lack AIRUT_GATEWAY_TOKEN/);
  rejects(() => buildTaskObjects(input({ plainEnv: { 'BAD NAME': '1' } })), /sandbox variable name "BAD NAME"/);
  rejects(() => buildTaskObjects(input({ plainEnv: { AIRUT_TASK: '9' } })), /AIRUT_TASK is set by the Kubernetes backend/);
  rejects(() => buildTaskObjects(input({ capabilities: ['NET_ADMIN'] })), /capability "NET_ADMIN" may not be added/);
  rejects(() => buildTaskObjects(input({ capabilities: ['SYS_ADMIN'] })), /SYS_ADMIN/);
  rejects(() => buildTaskObjects(input({ runAsUser: 0 })), /run_as_user 0/);
  rejects(() => buildTaskObjects(input({ runAsUser: -5 })), /run_as_user -5/);
  rejects(() => buildTaskObjects(input({ runAsUser: 1.5 })), /run_as_user 1.5/);
  rejects(() => buildTaskObjects(input({ gateway: { address: 'gateway.example', port: 8443 } })), /not an IPv4 or IPv6 literal/);
  rejects(() => buildTaskObjects(input({ gateway: { address: '10.0.0.0/8', port: 8443 } })), /not an IPv4 or IPv6 literal/);
  rejects(() => buildTaskObjects(input({ gateway: { address: '10.0.0.5', port: 0 } })), /port 0/);
  rejects(() => buildTaskObjects(input({ gateway: { address: '10.0.0.5', port: 70000 } })), /port 70000/);
  rejects(() => buildTaskObjects(input({ image: 'registry.example/airut-api:latest' })), /repository image .* not an image reference by digest/);
  rejects(() => buildTaskObjects(input({ toolsImage: `x@${DIGEST} --privileged` })), /tools image/);
  rejects(() => buildTaskObjects(input({ timeoutMs: 0 })), /timeout 0 ms/);
  rejects(() => buildTaskObjects(input({ timeoutMs: Number.POSITIVE_INFINITY })), /timeout Infinity ms/);
  rejects(() => buildTaskObjects(input({ timeoutMs: Number.NaN })), /timeout NaN ms/);
  rejects(() => buildTaskObjects(input({ resources: { limits: { memory: '2 GB' } } })), /kubernetes.resources.limits.memory "2 GB"/);
  rejects(() => buildTaskObjects(input({ resources: { requests: { cpu: '-1' } } })), /requests.cpu "-1"/);
  rejects(() => buildTaskObjects(input({ stateSizeLimit: '10 gigs' })), /state_size_limit/);
  rejects(() => buildTaskObjects(input({ runtimeClassName: 'GVisor!' })), /runtime class/);
  rejects(() => buildTaskObjects(input({ imagePullSecrets: ['../x'] })), /image pull secret/);
  rejects(() => buildTaskObjects(input({ namespace: 'Airut/Prod' })), /namespace "Airut\/Prod"/);
  rejects(() => buildTaskObjects(input({ taskId: -1 })), /task id -1/);
  rejects(() => buildTaskObjects(input({ taskId: 1.5 })), /task id 1.5/);
  rejects(() => buildTaskObjects(input({ labels: { 'Repo/x': 'a' } })), /label name "Repo\/x"/);
  rejects(() => buildTaskObjects(input({ labels: { task: '8' } })), /label "task" is set by the Kubernetes backend/);
  rejects(() => buildTaskObjects(input({ labels: { instance: 'other' } })), /label "instance"/);
});

test('multi-line and unicode secret values are kept exactly in stringData', () => {
  const { secret } = buildTaskObjects(input({ secretEnv: { ...SECRETS, UNI: 'päss\u0000wörd\r\n✓' } }));
  assert.equal(secret.type, 'Opaque');
  assert.equal(secret.stringData?.UNI, 'päss\u0000wörd\r\n✓');
  assert.equal(secret.stringData?.MULTI_LINE, SECRETS.MULTI_LINE);
});

test('the schema check used above catches a misspelt field and a wrong type (it is not vacuous)', () => {
  const { pod } = buildTaskObjects(input());
  const misspelt = structuredClone(pod) as unknown as { spec: { containers: Array<{ securityContext: Record<string, unknown> }> } };
  misspelt.spec.containers[0]!.securityContext = { allowPrivilegeEscalaton: false };
  assert.throws(() => validateKubeObject(misspelt), /unknown fields: .*allowPrivilegeEscalaton/);
  const wrongType = structuredClone(pod) as unknown as { spec: { restartPolicy: string } };
  wrongType.spec.restartPolicy = 'Sometimes';
  assert.throws(() => validateKubeObject(wrongType), /restartPolicy/);
});
