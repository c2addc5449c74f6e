import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { KubeStandIn } from './stand-in.ts';

const auth = { authorization: 'Bearer stand-in-token', 'content-type': 'application/json' };

describe('the Kubernetes stand-in, spoken to directly', () => {
  const started = KubeStandIn.start();
  after(async () => (await started).close());

  it('refuses a request without the kubeconfig token', async () => {
    const s = await started;
    const res = await fetch(`${s.url}/api/v1/namespaces/airut-test/pods`);
    assert.equal(res.status, 401);
    assert.equal((await res.json() as { kind: string }).kind, 'Status');
  });

  it('stores a Secret as the real server does: stringData folded into base64 data', async () => {
    const s = await started;
    const res = await fetch(`${s.url}/api/v1/namespaces/airut-test/secrets`, { method: 'POST', headers: auth,
      body: JSON.stringify({ metadata: { name: 'airut-t-1-env' }, stringData: { A: 'b' } }) });
    assert.equal(res.status, 201);
    const [stored] = s.objects('secret') as Array<{ data: Record<string, string>; stringData?: unknown }>;
    assert.deepEqual(stored!.data, { A: Buffer.from('b').toString('base64') });
    assert.equal(stored!.stringData, undefined);
    assert.equal(s.requests.get('create secret'), 1);
  });

  it('answers NotFound with a Status object', async () => {
    const s = await started;
    const res = await fetch(`${s.url}/api/v1/namespaces/airut-test/pods/nope`, { headers: auth });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'pods "nope" not found', reason: 'NotFound', code: 404 });
  });

  it('a watch from a forgotten resourceVersion gets one ERROR event with a 410 Status', async () => {
    const s = await started;
    s.dropConnections({ gone: true });
    const res = await fetch(`${s.url}/api/v1/namespaces/airut-test/pods?watch=true&resourceVersion=1`, { headers: auth });
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { code: number; reason: string } });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.type, 'ERROR');
    assert.equal(lines[0]!.object.code, 410);
    assert.equal(lines[0]!.object.reason, 'Expired');
  });

  it('lists carry the current resourceVersion and filter by label', async () => {
    const s = await started;
    for (const [name, team] of [['airut-l-1-env', 'a'], ['airut-l-2-env', 'b']]) {
      await fetch(`${s.url}/api/v1/namespaces/airut-test/secrets`, { method: 'POST', headers: auth,
        body: JSON.stringify({ metadata: { name, labels: { team } } }) });
    }
    const res = await fetch(`${s.url}/api/v1/namespaces/airut-test/secrets?labelSelector=team%3Db`, { headers: auth });
    const list = await res.json() as { kind: string; metadata: { resourceVersion: string }; items: Array<{ metadata: { name: string } }> };
    assert.equal(list.kind, 'SecretList');
    assert.match(list.metadata.resourceVersion, /^\d+$/);
    assert.deepEqual(list.items.map((i) => i.metadata.name), ['airut-l-2-env']);
  });
});
