/**
 * The Kubernetes backend's configuration: `execution.backend`, the `kubernetes:` section and
 * `repos.<id>.kubernetes`, through the real loader (schema, rules, build).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import path from 'node:path';
import { formatConfigSummary } from '../../src/config/summary.ts';
import { AirutError } from '../../src/errors.ts';
import { createExecutionBackend, executionSettings } from '../../src/sandbox/backend-factory.ts';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig, type Tree } from './fixtures/configs.ts';

function kubeConfig(kubernetes: Tree = {}): Tree {
  const tree = validConfig();
  tree.execution = { backend: 'kubernetes' };
  tree.kubernetes = { namespace: 'airut', registry: 'registry.example.com/airut', gateway: { advertise_address: '10.0.0.5' }, ...kubernetes };
  return tree;
}

test('a minimal kubernetes section gets the documented defaults', () => {
  const cfg = parse(toYaml(kubeConfig()));
  assert.equal(cfg.global.backend, 'kubernetes');
  assert.deepEqual(cfg.global.kubernetes, {
    kubeconfigPath: null,
    context: null,
    namespace: 'airut',
    registry: 'registry.example.com/airut',
    registryTlsVerify: true,
    imagePullSecrets: [],
    runtimeClassName: null,
    nodeSelector: {},
    tolerations: [],
    stateSizeLimit: '10Gi',
    maxStateBytes: 2_147_483_648,
    gateway: { listenHost: '0.0.0.0', listenPort: 3129, advertiseAddress: '10.0.0.5' },
    resources: {},
  });
  // No kubernetes resources anywhere: the limits are the repository's resource_limits (2g, 1 CPU).
  assert.deepEqual(cfg.repos.api!.kubernetes, { resources: { limits: { cpu: '1', memory: '2Gi' } }, runAsUser: null });
});

test('every key of the section is read; kubeconfig is a path like the others', () => {
  const cfg = parse(
    toYaml(
      kubeConfig({
        kubeconfig: '~/.kube/airut',
        context: 'prod',
        registry: '10.0.0.5:5000/airut/',
        registry_tls_verify: false,
        image_pull_secrets: ['regcred'],
        runtime_class: 'gvisor',
        node_selector: { 'airut.dev/pool': 'agents', 'kubernetes.io/arch': 'amd64' },
        tolerations: [
          { key: 'airut.dev/agents', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
          { operator: 'Exists' },
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', toleration_seconds: 30 },
        ],
        state_size_limit: '20Gi',
        max_state_bytes: 1_073_741_824,
        gateway: { listen_host: '10.0.0.5', listen_port: 8129, advertise_address: 'fd00::5' },
        resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } },
      }),
    ),
  );
  const k = cfg.global.kubernetes!;
  assert.equal(k.kubeconfigPath, path.join(homedir(), '.kube/airut'));
  assert.equal(k.context, 'prod');
  assert.equal(k.registry, '10.0.0.5:5000/airut');
  assert.equal(k.registryTlsVerify, false);
  assert.deepEqual(k.imagePullSecrets, ['regcred']);
  assert.equal(k.runtimeClassName, 'gvisor');
  assert.deepEqual(k.nodeSelector, { 'airut.dev/pool': 'agents', 'kubernetes.io/arch': 'amd64' });
  assert.deepEqual(k.tolerations, [
    { key: 'airut.dev/agents', operator: 'Equal', value: 'true', effect: 'NoSchedule', tolerationSeconds: null },
    { key: null, operator: 'Exists', value: null, effect: null, tolerationSeconds: null },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', value: null, effect: 'NoExecute', tolerationSeconds: 30 },
  ]);
  assert.equal(k.stateSizeLimit, '20Gi');
  assert.equal(k.maxStateBytes, 1_073_741_824);
  assert.deepEqual(k.gateway, { listenHost: '10.0.0.5', listenPort: 8129, advertiseAddress: 'fd00::5' });
  assert.deepEqual(cfg.repos.api!.kubernetes.resources, { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } });

  const relative = parse(toYaml(kubeConfig({ kubeconfig: 'kube/config' })));
  assert.equal(relative.global.kubernetes!.kubeconfigPath, '/etc/airut/kube/config');
});

test("a repository's kubernetes keys override the top level's one by one; unset limits come from resource_limits", () => {
  const tree = kubeConfig({ resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2' } } });
  setIn(tree, ['repos', 'api', 'kubernetes'], { resources: { requests: { memory: '1Gi' } }, run_as_user: 1000 });
  setIn(tree, ['repos', 'api', 'resource_limits'], { memory: '3g', cpus: 1.5 });
  const cfg = parse(toYaml(tree));
  assert.deepEqual(cfg.repos.api!.kubernetes, {
    resources: { requests: { cpu: '250m', memory: '1Gi' }, limits: { cpu: '2', memory: '3Gi' } },
    runAsUser: 1000,
  });
  assert.deepEqual(cfg.repos.web!.kubernetes, { resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } }, runAsUser: null });
});

test('the sandbox gets the section as KubernetesSettings, tolerations in the pod-spec shape', () => {
  const cfg = parse(toYaml(kubeConfig({ tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }] })));
  const s = executionSettings(cfg.global);
  assert.equal(s.backend, 'kubernetes');
  assert.deepEqual(s.kubernetes, {
    connection: { kubeconfigPath: null, context: null, namespace: 'airut' },
    registry: 'registry.example.com/airut',
    registryTlsVerify: true,
    imagePullSecrets: [],
    runtimeClassName: null,
    nodeSelector: {},
    tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }],
    stateSizeLimit: '10Gi',
    maxStateBytes: 2_147_483_648,
    gateway: { listenHost: '0.0.0.0', listenPort: 3129, advertiseAddress: '10.0.0.5' },
  });
  // Structured-cloneable: it crosses into runner threads.
  assert.deepEqual(structuredClone(s.kubernetes), s.kubernetes);

  // The factory builds the Kubernetes backend; with no kubeconfig outside a pod it says what to set.
  assert.equal(s.kubernetes?.connection.kubeconfigPath ?? null, null);
  assert.throws(
    () => createExecutionBackend(s),
    (err: unknown) => err instanceof AirutError && err.code === 'CONFIG_INVALID' && /set kubernetes\.kubeconfig/.test(err.message),
  );

  // With the container backend the section is allowed, and unused.
  const tree = kubeConfig();
  tree.execution = { backend: 'container' };
  const container = executionSettings(parse(toYaml(tree)).global);
  assert.equal(container.backend, 'container');
  assert.equal(container.kubernetes, null);
  assert.equal(executionSettings(parse(toYaml(validConfig())).global).backend, 'container');
});

test('execution.backend: kubernetes needs the kubernetes section', () => {
  const tree = validConfig();
  tree.execution = { backend: 'kubernetes' };
  assert.match(messageAt(problemsOf(toYaml(tree)), 'kubernetes'), /is required with execution\.backend: kubernetes; set at least namespace, registry and gateway\.advertise_address/);
  tree.execution = { backend: 'k8s' };
  assert.equal(messageAt(problemsOf(toYaml(tree)), 'execution.backend'), 'must be one of: container, kubernetes');
});

test('the section names its own required keys', () => {
  const tree = kubeConfig();
  tree.kubernetes = { gateway: {} };
  const problems = problemsOf(toYaml(tree));
  for (const key of ['kubernetes.namespace', 'kubernetes.registry', 'kubernetes.gateway.advertise_address']) assert.equal(messageAt(problems, key), 'is required');
});

test('max_concurrent above 64 needs the kubernetes backend', () => {
  const tree = validConfig();
  tree.execution = { max_concurrent: 65 };
  assert.equal(
    messageAt(problemsOf(toYaml(tree)), 'execution.max_concurrent'),
    'is 65; max_concurrent above 64 needs execution.backend: kubernetes: one host cannot run more containers',
  );
  tree.execution = { max_concurrent: 64 };
  assert.equal(parse(toYaml(tree)).global.maxConcurrent, 64);
  const kube = kubeConfig();
  kube.execution = { backend: 'kubernetes', max_concurrent: 1000 };
  assert.equal(parse(toYaml(kube)).global.maxConcurrent, 1000);
});

test('bad values are refused, each naming the key and what to write instead', () => {
  const cases: Array<[string[], unknown, string, RegExp]> = [
    [['namespace'], 'Airut', 'kubernetes.namespace', /must be a Kubernetes namespace name/],
    [['namespace'], 'a'.repeat(64), 'kubernetes.namespace', /at most 63/],
    [['namespace'], 'air_ut', 'kubernetes.namespace', /namespace name/],
    [['registry'], 'https://registry.example.com/airut', 'kubernetes.registry', /must not have a scheme/],
    [['registry'], 'registry.example.com/airut:latest', 'kubernetes.registry', /must not carry a tag or digest/],
    [['registry'], 'registry.example.com/airut@sha256:abc', 'kubernetes.registry', /must not carry a tag or digest/],
    [['registry'], 'registry.example.com/Airut', 'kubernetes.registry', /path in lower case/],
    [['registry'], 'registry example.com', 'kubernetes.registry', /must be a registry host/],
    [['runtime_class'], 'gVisor', 'kubernetes.runtime_class', /must be a RuntimeClass name/],
    [['image_pull_secrets'], ['Reg Cred'], 'kubernetes.image_pull_secrets[0]', /must be a Secret name/],
    [['node_selector'], { 'bad key!': 'x' }, 'kubernetes.node_selector["bad key!"]', /is not a label key/],
    [['node_selector'], { pool: 'not ok' }, 'kubernetes.node_selector.pool', /is not a label value/],
    [['node_selector'], { pool: 3 }, 'kubernetes.node_selector.pool', /must be a string/],
    [['tolerations'], [{ operator: 'Equal', value: 'x' }], 'kubernetes.tolerations[0].key', /is required unless operator is Exists/],
    [['tolerations'], [{ key: 'a', operator: 'Exists', value: 'x' }], 'kubernetes.tolerations[0].value', /must be left out with operator Exists/],
    [['tolerations'], [{ key: 'a', operator: 'Equal', value: 'x', toleration_seconds: 5 }], 'kubernetes.tolerations[0].toleration_seconds', /only with effect NoExecute/],
    [['tolerations'], [{ key: 'a', operator: 'In' }], 'kubernetes.tolerations[0].operator', /must be one of: Exists, Equal/],
    [['tolerations'], [{ key: 'a', effect: 'NoRun' }], 'kubernetes.tolerations[0].effect', /must be one of: NoSchedule, PreferNoSchedule, NoExecute/],
    [['tolerations'], [{ key: 'a/b/c' }], 'kubernetes.tolerations[0].key', /is not a taint key/],
    [['state_size_limit'], '10g', 'kubernetes.state_size_limit', /must be bytes with an optional unit/],
    [['state_size_limit'], '512m', 'kubernetes.state_size_limit', /write 512Mi/],
    [['max_state_bytes'], 1000, 'kubernetes.max_state_bytes', /must be an integer from 1048576/],
    [['gateway', 'advertise_address'], 'airut.example.com', 'kubernetes.gateway.advertise_address', /must be an IP address.*without DNS/],
    [['gateway', 'listen_host'], 'http://0.0.0.0', 'kubernetes.gateway.listen_host', /without scheme, port or path/],
    [['gateway', 'listen_port'], 70000, 'kubernetes.gateway.listen_port', /must be an integer from 1 to 65535/],
    [['resources', 'limits', 'cpu'], 'lots', 'kubernetes.resources.limits.cpu', /must be CPU cores, such as 1, 0.5 or 500m/],
    [['resources', 'requests', 'memory'], '1g', 'kubernetes.resources.requests.memory', /must be bytes/],
    [['resources', 'requests', 'gpu'], '1', 'kubernetes.resources.requests.gpu', /^unknown key/],
    [['resources', 'requests', 'cpu'], 2, 'kubernetes.resources.requests.cpu', /must be a string/],
    [['registry_tls_verify'], 'no', 'kubernetes.registry_tls_verify', /must be true or false/],
  ];
  for (const [keyPath, value, at, message] of cases) {
    const tree = kubeConfig();
    setIn(tree, ['kubernetes', ...keyPath], value);
    assert.match(messageAt(problemsOf(toYaml(tree)), at), message, `${keyPath.join('.')} = ${JSON.stringify(value)}`);
  }
});

test('a request above its limit is refused, also when the limit comes from the top level', () => {
  const top = kubeConfig({ resources: { requests: { memory: '4Gi' }, limits: { memory: '2Gi' } } });
  assert.match(messageAt(problemsOf(toYaml(top)), 'kubernetes.resources.requests.memory'), /is more than limits\.memory; a request may not exceed its limit/);

  const repo = kubeConfig({ resources: { limits: { cpu: '1' } } });
  setIn(repo, ['repos', 'api', 'kubernetes'], { resources: { requests: { cpu: '1500m' } } });
  assert.match(messageAt(problemsOf(toYaml(repo)), 'repos.api.kubernetes.resources.requests.cpu'), /is more than limits\.cpu \(from kubernetes\.resources\)/);

  // Equal is fine, and a repository may raise the limit it inherits.
  const ok = kubeConfig({ resources: { requests: { cpu: '1' }, limits: { cpu: '1' } } });
  setIn(ok, ['repos', 'api', 'kubernetes'], { resources: { requests: { cpu: '2' }, limits: { cpu: '4' } } });
  assert.equal(parse(toYaml(ok)).repos.api!.kubernetes.resources.requests!.cpu, '2');
});

test("a request above the limit a repository gets from resource_limits is refused, naming both ways out", () => {
  const tree = kubeConfig({ resources: { requests: { memory: '3Gi' } } });
  setIn(tree, ['repos', 'web', 'resource_limits'], { memory: '4g' });
  const problems = problemsOf(toYaml(tree));
  assert.equal(
    messageAt(problems, 'repos.api.kubernetes.resources.requests.memory'),
    "(from kubernetes.resources) is more than the limit this repository's pods get from resource_limits.memory; set kubernetes.resources.limits.memory or raise resource_limits.memory",
  );
  assert.equal(problems.length, 1, 'web has 4g, enough for 3Gi');

  const cpu = kubeConfig();
  setIn(cpu, ['repos', 'api', 'kubernetes'], { resources: { requests: { cpu: '1500m' } } });
  assert.match(messageAt(problemsOf(toYaml(cpu)), 'repos.api.kubernetes.resources.requests.cpu'), /^is more than the limit this repository's pods get from resource_limits\.cpus/);
  setIn(cpu, ['resource_limits'], { cpus: 2 });
  assert.equal(parse(toYaml(cpu)).repos.api!.kubernetes.resources.limits!.cpu, '2');
});

test('run_as_user is a uid of 1 or more', () => {
  for (const bad of [0, -1, 1.5, 'root']) {
    const tree = kubeConfig();
    setIn(tree, ['repos', 'api', 'kubernetes'], { run_as_user: bad });
    assert.match(messageAt(problemsOf(toYaml(tree)), 'repos.api.kubernetes.run_as_user'), /must be an integer from 1/, String(bad));
  }
});

test('--check says where tasks run, and warns of a section that does nothing or a registry not checked', () => {
  const quiet = formatConfigSummary(parse(toYaml(kubeConfig({ kubeconfig: '/etc/kube/config', context: 'prod' }))));
  assert.match(quiet, /^kubernetes: namespace airut via \/etc\/kube\/config \(context prod\); images registry\.example\.com\/airut; gateway 0\.0\.0\.0:3129, pods reach 10\.0\.0\.5; builds with podman$/m);
  assert.doesNotMatch(quiet, /warnings/);

  const unused = kubeConfig();
  unused.execution = { backend: 'container' };
  const summary = formatConfigSummary(parse(toYaml(unused)));
  assert.match(summary, /^containers: podman$/m);
  assert.match(summary, /kubernetes: is set but unused, as execution\.backend is container/);

  assert.match(formatConfigSummary(parse(toYaml(kubeConfig({ registry_tls_verify: false })))), /kubernetes\.registry_tls_verify: false: images are pushed to registry\.example\.com\/airut without checking its certificate/);
});
