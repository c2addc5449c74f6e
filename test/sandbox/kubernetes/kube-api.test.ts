import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { AirutError } from '../../../src/errors.ts';
import { KubeApi, type PodWatchEvent } from '../../../src/sandbox/kubernetes/kube-api.ts';
import { ScriptedPodRunner, type PodRunContext } from '../../harness/kube/pod-runner.ts';
import { KubeStandIn } from '../../harness/kube/stand-in.ts';
import { exitTempDir } from '../../harness/temp-dirs.ts';

function pod(name: string, o: { deadline?: number; grace?: number } = {}): V1Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'airut', 'airut.dev/instance': 'test', 'airut.dev/task': '7' } },
    spec: {
      restartPolicy: 'Never',
      ...(o.deadline ? { activeDeadlineSeconds: o.deadline } : {}),
      terminationGracePeriodSeconds: o.grace ?? 20,
      initContainers: [{ name: 'airut-tools', image: 'tools@sha256:aa' }],
      containers: [{ name: 'agent', image: 'repo@sha256:bb' }],
    },
  };
}

async function connect(standIn: KubeStandIn): Promise<KubeApi> {
  const file = await standIn.writeKubeconfig(exitTempDir('airut-kube-'));
  return KubeApi.connect({ kubeconfigPath: file, context: null, namespace: standIn.namespace });
}

/** Collects watch events; `until` resolves at the first event matching. */
function watchEvents(): { events: PodWatchEvent[]; onEvent: (e: PodWatchEvent) => void; until: (p: (e: PodWatchEvent) => boolean) => Promise<void> } {
  const events: PodWatchEvent[] = [];
  const waiters: Array<{ p: (e: PodWatchEvent) => boolean; resolve: () => void }> = [];
  return {
    events,
    onEvent: (e) => {
      events.push(e);
      for (const w of [...waiters]) if (w.p(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    },
    until: (p) => events.some(p) ? Promise.resolve() : new Promise((resolve) => waiters.push({ p, resolve })),
  };
}

const phase = (p: string) => (e: PodWatchEvent): boolean => e.pod.status?.phase === p;

async function readAll(stream: Readable): Promise<string> {
  let text = '';
  for await (const c of stream) text += (c as Buffer).toString('utf8');
  return text;
}

/** A runner the test drives step by step: start, log, finish. */
function gatedRunner(): { runner: ScriptedPodRunner; ctx: Promise<PodRunContext>; finish: (code: number) => void; aborted: Promise<void> } {
  let gotCtx!: (c: PodRunContext) => void;
  let done!: (code: number) => void;
  let wasAborted!: () => void;
  const ctx = new Promise<PodRunContext>((r) => { gotCtx = r; });
  const exit = new Promise<number>((r) => { done = r; });
  const aborted = new Promise<void>((r) => { wasAborted = r; });
  const runner = new ScriptedPodRunner(async (c) => {
    c.signal.addEventListener('abort', () => { wasAborted(); done(143); }, { once: true });
    gotCtx(c);
    return { container: 'agent', exitCode: await exit };
  });
  return { runner, ctx, finish: done, aborted };
}

for (const tls of [false, true]) {
  describe(`KubeApi against the stand-in (${tls ? 'HTTPS' : 'HTTP'})`, () => {
    const started = KubeStandIn.start({ tls });
    after(async () => (await started).close());

    it('creates, lists and deletes each kind, and counts its calls', async () => {
      const standIn = await started;
      const api = await connect(standIn);
      const labels = { 'airut.dev/instance': 'crud', 'airut.dev/task': '1' };
      await api.createSecret({ metadata: { name: 'airut-crud-1-env', labels }, type: 'Opaque', stringData: { TOKEN: 's3cret' } });
      await api.createNetworkPolicy({ metadata: { name: 'airut-crud-1-net', labels }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
      await api.createPod({ ...pod('airut-crud-1'), metadata: { name: 'airut-crud-1', labels } });
      for (const kind of ['pod', 'secret', 'networkpolicy'] as const) {
        const found = await api.list(kind, 'airut.dev/instance=crud,airut.dev/task=1');
        assert.equal(found.length, 1, kind);
        assert.equal(found[0]!.labels['airut.dev/task'], '1');
        assert.deepEqual(await api.list(kind, 'airut.dev/instance=other'), []);
      }
      assert.equal((await api.readPod('airut-crud-1'))?.metadata?.name, 'airut-crud-1');
      assert.equal(await api.readPod('no-such-pod'), null);
      assert.equal(await api.delete('secret', 'airut-crud-1-env'), true);
      assert.equal(await api.delete('networkpolicy', 'airut-crud-1-net'), true);
      assert.equal(await api.delete('pod', 'airut-crud-1', 0), true);
      assert.equal(await api.delete('pod', 'airut-crud-1', 0), false, 'already gone is false, not an error');
      assert.deepEqual(await api.list('pod', 'airut.dev/instance=crud'), []);
      assert.deepEqual(api.calls, { total: 16, byVerb: { create: 3, list: 7, get: 2, delete: 4 } });
      const secret = standIn.objects('secret');
      assert.equal(secret.length, 0);
    });

    for (const [label, failure, expected] of [
      ['403 forbidden', { status: 403, reason: 'Forbidden', message: 'pods is forbidden: User "airut" cannot create resource "pods"' }, /403 Forbidden\): pods is forbidden/],
      ['403 quota', { status: 403, reason: 'Forbidden', message: 'pods "x" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8' }, /namespace quota is exceeded\): .*exceeded quota: compute/],
      ['409 conflict', { status: 409, reason: 'AlreadyExists', message: 'pods "airut-x-1" already exists' }, /409 AlreadyExists\): pods "airut-x-1" already exists/],
      ['422 invalid', { status: 422, reason: 'Invalid', message: 'Pod "airut-x-1" is invalid: spec.containers: Required value' }, /422 Invalid\): Pod "airut-x-1" is invalid/],
    ] as const) {
      it(`${label} becomes KUBE_API_REFUSED naming verb, kind, name and the server's message`, async () => {
        const standIn = await started;
        const api = await connect(standIn);
        standIn.failNext({ verb: 'create', kind: 'pod' }, failure);
        await assert.rejects(api.createPod(pod('airut-x-1')), (err: unknown) => {
          assert.ok(err instanceof AirutError);
          assert.equal(err.code, 'KUBE_API_REFUSED');
          assert.match(err.message, /^create pod airut-x-1 in namespace airut-test was refused by the Kubernetes API server/);
          assert.match(err.message, expected);
          return true;
        });
      });
    }

    it('a refused Secret never puts its data into the error', async () => {
      const standIn = await started;
      const api = await connect(standIn);
      standIn.failNext({ verb: 'create', kind: 'secret' }, { status: 500, reason: 'InternalError', message: 'x'.repeat(2000) });
      await assert.rejects(api.createSecret({ metadata: { name: 'airut-s-1-env' }, stringData: { KEY: 'very-secret-value' } }), (err: Error) => {
        assert.doesNotMatch(err.message, /very-secret-value/);
        assert.ok(err.message.length < 800, 'the server message is truncated');
        return true;
      });
    });

    it('the stand-in itself answers 409 and 422 as the real server does', async () => {
      const standIn = await started;
      const api = await connect(standIn);
      await api.createPod(pod('airut-dup-1'));
      await assert.rejects(api.createPod(pod('airut-dup-1')), /409 AlreadyExists\): pods "airut-dup-1" already exists/);
      await assert.rejects(api.createPod(pod('Not_A_Name')), /422 Invalid\)/);
      await api.delete('pod', 'airut-dup-1', 0);
    });

    it('a watch sees Pending → Running → Succeeded, and the log has every line in order', async () => {
      const standIn = await started;
      const api = await connect(standIn);
      const gate = gatedRunner();
      standIn.setRunner(gate.runner);
      await api.createPod(pod('airut-run-1'));
      const w = watchEvents();
      const stop = new AbortController();
      const watching = api.watchPod('airut-run-1', w.onEvent, stop.signal);
      await w.until(phase('Pending'));
      const ctx = await gate.ctx;
      ctx.containerStarted('agent');
      ctx.log('agent', Buffer.from('line 1\nline 2\n'));
      await w.until(phase('Running'));
      const logStop = new AbortController();
      const log = await api.followLog('airut-run-1', 'agent', logStop.signal);
      const text = readAll(log);
      ctx.log('agent', Buffer.from('line 3\n'));
      ctx.log('agent', Buffer.from('line 4\n'));
      gate.finish(0);
      await w.until(phase('Succeeded'));
      assert.equal(await text, 'line 1\nline 2\nline 3\nline 4\n');
      const final = w.events.at(-1)!.pod.status!;
      assert.equal(final.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
      stop.abort();
      await watching;
      assert.deepEqual(w.events.map((e) => e.pod.status?.phase).filter((p, i, a) => p !== a[i - 1]), ['Pending', 'Running', 'Succeeded']);
      assert.equal(api.calls.byVerb.watch, 1);
      assert.equal(api.calls.byVerb.log, 1);
      await api.delete('pod', 'airut-run-1', 0);
    });

    for (const gone of [false, true]) {
      it(`a watch survives dropped connections${gone ? ' and a 410 Gone' : ''} and sees the final phase`, async () => {
        const standIn = await started;
        const api = await connect(standIn);
        const gate = gatedRunner();
        standIn.setRunner(gate.runner);
        const name = `airut-drop-${gone ? 2 : 1}`;
        await api.createPod(pod(name));
        const w = watchEvents();
        const stop = new AbortController();
        const watching = api.watchPod(name, w.onEvent, stop.signal);
        await w.until(phase('Pending'));
        const ctx = await gate.ctx;
        standIn.dropConnections({ gone });
        ctx.containerStarted('agent');
        gate.finish(3);
        await w.until(phase('Failed'));
        stop.abort();
        await watching;
        assert.ok((api.calls.byVerb.watch ?? 0) >= 2, 'the watch was opened again');
        if (gone) assert.equal(api.calls.byVerb.list, 1, 'a 410 re-lists the pod');
        const last = w.events.at(-1)!.pod.status!;
        assert.equal(last.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
        await api.delete('pod', name, 0);
      });
    }

    it('activeDeadlineSeconds fails the pod with DeadlineExceeded and aborts the runner', async () => {
      const standIn = await started;
      const api = await connect(standIn);
      const gate = gatedRunner();
      standIn.setRunner(gate.runner);
      await api.createPod(pod('airut-deadline-1', { deadline: 1 }));
      const w = watchEvents();
      const stop = new AbortController();
      const watching = api.watchPod('airut-deadline-1', w.onEvent, stop.signal);
      (await gate.ctx).containerStarted('agent');
      await gate.aborted;
      await w.until((e) => e.pod.status?.reason === 'DeadlineExceeded');
      assert.equal(w.events.at(-1)!.pod.status?.phase, 'Failed');
      stop.abort();
      await watching;
      await api.delete('pod', 'airut-deadline-1', 0);
    });

    it('delete with a grace period aborts the runner, then the watch sees DELETED', async () => {
      const standIn = await started;
      const api = await connect(standIn);
      const gate = gatedRunner();
      standIn.setRunner(gate.runner);
      await api.createPod(pod('airut-grace-1'));
      const w = watchEvents();
      const stop = new AbortController();
      const watching = api.watchPod('airut-grace-1', w.onEvent, stop.signal);
      (await gate.ctx).containerStarted('agent');
      await w.until(phase('Running'));
      assert.equal(await api.delete('pod', 'airut-grace-1', 20), true);
      await gate.aborted;
      await w.until((e) => e.type === 'DELETED');
      assert.ok(w.events.some((e) => e.type === 'MODIFIED' && e.pod.metadata?.deletionTimestamp), 'the pod was marked for deletion first');
      stop.abort();
      await watching;
      assert.equal(await api.readPod('airut-grace-1'), null);
    });

    it('a log asked for before the container starts is refused with the server message', async () => {
      const standIn = await started;
      const api = await connect(standIn);
      standIn.setRunner(new ScriptedPodRunner((c) => new Promise((r) => c.signal.addEventListener('abort', () => r({ container: 'agent', exitCode: 137 })))));
      await api.createPod(pod('airut-early-1'));
      await assert.rejects(api.followLog('airut-early-1', 'agent', new AbortController().signal),
        (err: AirutError) => err.code === 'KUBE_API_REFUSED' && /waiting to start: PodInitializing/.test(err.message));
      await api.delete('pod', 'airut-early-1', 0);
    });
  });
}

describe('KubeApi connection problems', () => {
  it('an API server that does not answer is KUBE_API_UNREACHABLE', async () => {
    const standIn = await KubeStandIn.start();
    const file = await standIn.writeKubeconfig(exitTempDir('airut-kube-'));
    await standIn.close();
    const api = KubeApi.connect({ kubeconfigPath: file, context: null, namespace: 'airut-test' });
    await assert.rejects(api.createPod(pod('airut-u-1')), (err: AirutError) => err.code === 'KUBE_API_UNREACHABLE' && /create pod airut-u-1/.test(err.message));
    await assert.rejects(api.list('secret', 'a=b'), (err: AirutError) => err.code === 'KUBE_API_UNREACHABLE');
  });

  it('a missing kubeconfig or an unknown context is CONFIG_INVALID', async () => {
    assert.throws(() => KubeApi.connect({ kubeconfigPath: '/nonexistent/kubeconfig', context: null, namespace: 'x' }),
      (err: AirutError) => err.code === 'CONFIG_INVALID' && /\/nonexistent\/kubeconfig could not be read/.test(err.message));
    const standIn = await KubeStandIn.start();
    const file = await standIn.writeKubeconfig(exitTempDir('airut-kube-'));
    await standIn.close();
    assert.throws(() => KubeApi.connect({ kubeconfigPath: file, context: 'prod', namespace: 'x' }),
      (err: AirutError) => err.code === 'CONFIG_INVALID' && /no context "prod" \(it has: stand-in\)/.test(err.message));
  });
});
