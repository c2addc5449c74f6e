import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pod } from 'kubernetes-models/v1';
import type { KubernetesConfig } from '../../../src/config/types.ts';
import { kubernetesSettings } from '../../../src/sandbox/kubernetes/settings.ts';

const config: KubernetesConfig = {
  kubeconfigPath: '/etc/kube/config',
  context: 'prod',
  namespace: 'airut',
  registry: 'registry.example.com/airut',
  registryTlsVerify: false,
  imagePullSecrets: ['regcred'],
  runtimeClassName: 'gvisor',
  nodeSelector: { 'airut.dev/pool': 'agents' },
  tolerations: [
    { key: 'airut.dev/agents', operator: 'Equal', value: 'true', effect: 'NoSchedule', tolerationSeconds: null },
    { key: null, operator: 'Exists', value: null, effect: null, tolerationSeconds: null },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', value: null, effect: 'NoExecute', tolerationSeconds: 30 },
  ],
  stateSizeLimit: '10Gi',
  maxStateBytes: 1_073_741_824,
  gateway: { listenHost: '0.0.0.0', listenPort: 3129, advertiseAddress: '10.0.0.5' },
  resources: { requests: { cpu: '500m' } },
};

test('the sandbox settings: the connection grouped, unset toleration fields left out', () => {
  const s = kubernetesSettings(config);
  assert.deepEqual(s.connection, { kubeconfigPath: '/etc/kube/config', context: 'prod', namespace: 'airut' });
  assert.deepEqual(s.tolerations, [
    { key: 'airut.dev/agents', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
    { operator: 'Exists' },
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
  ]);
  assert.equal(s.registryTlsVerify, false);
  assert.deepEqual(s.imagePullSecrets, ['regcred']);
  assert.deepEqual(structuredClone(s), s, 'it crosses into runner threads');
});

test('the tolerations, node selector and runtime class fit a pod spec as the official schema has it', () => {
  const s = kubernetesSettings(config);
  const pod = new Pod({
    metadata: { name: 'airut-x-1', namespace: s.connection.namespace },
    spec: {
      containers: [{ name: 'agent', image: `${s.registry}/repo@sha256:${'0'.repeat(64)}` }],
      // The models type operator and effect as enums; what matters here is the schema check at run time.
      tolerations: s.tolerations as NonNullable<NonNullable<ConstructorParameters<typeof Pod>[0]>['spec']>['tolerations'],
      nodeSelector: { ...s.nodeSelector },
      ...(s.runtimeClassName ? { runtimeClassName: s.runtimeClassName } : {}),
      imagePullSecrets: s.imagePullSecrets.map((name) => ({ name })),
      volumes: [{ name: 'state', emptyDir: { sizeLimit: s.stateSizeLimit } }],
    },
  });
  assert.doesNotThrow(() => pod.validate());
});
