/**
 * What every task pod gets from the request: resources from the repository's `kubernetes.resources`
 * or its container limits, container-runtime memory sizes as Kubernetes quantities, and the files
 * the pod may get (under /etc/airut only).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { dockerMemoryToQuantity, podFiles, podResources } from '../../../src/sandbox/kubernetes/task-pod-input.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';

describe('dockerMemoryToQuantity', () => {
  for (const [input, expected] of [
    ['2g', '2Gi'], ['2G', '2Gi'], ['512m', '512Mi'], ['64k', '64Ki'], ['1048576', '1048576'], ['1048576b', '1048576'], [' 1g ', '1Gi'],
    // Not container-runtime syntax: passed on for the quantity check to refuse or accept.
    ['1.5g', '1.5g'], ['2Gi', '2Gi'], ['', ''],
  ] as const) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(dockerMemoryToQuantity(input), expected));
  }
});

describe('podResources', () => {
  const limits = { memory: '2g', cpus: '1.5', pids: 512 };
  const cases: Array<[string, Parameters<typeof podResources>[0], ReturnType<typeof podResources>]> = [
    ['nothing set', {}, {}],
    ['container limits only', { limits }, { limits: { memory: '2Gi', cpu: '1.5' } }],
    ['kubernetes.resources wins', { limits, kube: { resources: { requests: { cpu: '500m' }, limits: { memory: '4Gi' } }, runAsUser: null } },
      { requests: { cpu: '500m' }, limits: { memory: '4Gi' } }],
    ['empty kubernetes.resources falls back to the limits', { limits, kube: { resources: {}, runAsUser: 1000 } }, { limits: { memory: '2Gi', cpu: '1.5' } }],
  ];
  for (const [what, input, expected] of cases) it(what, () => assert.deepEqual(podResources(input), expected));
});

describe('podFiles', () => {
  const dir = exitTempDir('airut-pod-files-');
  const net = { taskId: 1, token: 't', secretEnv: {}, files: { 'ca.crt': 'CA PEM' } };

  it('the network CA and files under /etc/airut, by file name', async () => {
    await fs.writeFile(path.join(dir, 'gitconfig'), '[user]\n\tname = airut\n');
    assert.deepEqual(await podFiles([{ source: path.join(dir, 'gitconfig'), target: '/etc/airut/gitconfig' }], net),
      { 'ca.crt': 'CA PEM', gitconfig: '[user]\n\tname = airut\n' });
    assert.deepEqual(await podFiles([], null), {});
  });

  for (const target of ['/etc/gitconfig', '/etc/airut/sub/x', '/root/.ssh/id_rsa', '/etc/airut/../passwd', 'etc/airut/x']) {
    it(`refuses a target outside /etc/airut: ${target}`, async () => {
      await assert.rejects(podFiles([{ source: path.join(dir, 'gitconfig'), target }], net), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'SANDBOX_SPEC_INVALID');
        assert.match(err.message, /only get files under \/etc\/airut/);
        return true;
      });
    });
  }
});
