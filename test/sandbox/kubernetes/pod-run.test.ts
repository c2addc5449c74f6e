/**
 * A task pod's life cycle through the KubernetesBackend, against the stand-in: Stop, the request's
 * signal, the timeout and activeDeadlineSeconds; the API server refusing; a pod that cannot prepare
 * or pull its image; and a watch that loses its connection or its resourceVersion mid-run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { successLines } from '../../harness/kube/emulated-pod-runner.ts';
import { ScriptedPodRunner, type PodRunContext } from '../../harness/kube/pod-runner.ts';
import { aborted, agentRequest, objectsOfTask, sandboxedRequest, startKubeBackendEnv, storedPod, type KubeBackendEnv } from './kube-backend-harness.ts';

process.env.AIRUT_LOG_LEVEL ??= 'silent';

let env: KubeBackendEnv;
before(async () => {
  env = await startKubeBackendEnv();
});
after(async () => {
  await env?.close();
});

/** A pod whose agent runs until it is stopped; `running` resolves once it does, with the pod's name. */
function hangingPod(onAbort?: (ctx: PodRunContext) => void): { runner: ScriptedPodRunner; running: Promise<string> } {
  let started!: (name: string) => void;
  const running = new Promise<string>((resolve) => (started = resolve));
  const runner = new ScriptedPodRunner(async (ctx) => {
    ctx.containerStarted('airut-tools');
    ctx.containerStarted('agent');
    ctx.log('agent', Buffer.from(`${successLines('sess-h', 'x')[0]}\n`));
    started(ctx.pod.metadata!.name!);
    await aborted(ctx.signal);
    onAbort?.(ctx);
    return { container: 'agent', exitCode: 143 };
  });
  return { runner, running };
}

/** Resolves once the backend has asked for a log beyond `before` requests (it follows the agent). */
async function logFollowed(before: number): Promise<void> {
  while ((env.standIn.requests.get('log pod') ?? 0) === before) await new Promise((r) => setImmediate(r));
}

describe('stopping a task pod', () => {
  it('backend.cancel deletes the pod with its grace period: cancelled, nothing left', async () => {
    let grace: number | undefined;
    const { runner, running } = hangingPod((ctx) => {
      grace = storedPod(env.standIn, ctx.pod.metadata!.name!)?.metadata?.deletionGracePeriodSeconds;
    });
    env.standIn.setRunner(runner);
    const logs = env.standIn.requests.get('log pod') ?? 0;
    const run = env.backend.runAgent(await agentRequest(env, 201), () => undefined);
    await running;
    await logFollowed(logs);
    assert.equal(env.backend.cancel(201), true);
    const outcome = await run;
    assert.equal(outcome.kind, 'cancelled');
    assert.equal(outcome.sessionId, 'sess-h');
    assert.equal(grace, 20, 'deleted with pod-entry.sh\'s grace period');
    assert.deepEqual(objectsOfTask(env.standIn, 201), []);
    assert.equal(env.backend.cancel(201), false, 'nothing runs under that id any more');
  });

  it("the request's AbortSignal stops it the same way", async () => {
    const { runner, running } = hangingPod();
    env.standIn.setRunner(runner);
    const controller = new AbortController();
    const run = env.backend.runAgent(await agentRequest(env, 202, { signal: controller.signal }), () => undefined);
    await running;
    controller.abort();
    assert.equal((await run).kind, 'cancelled');
    assert.deepEqual(objectsOfTask(env.standIn, 202), []);
  });

  it('an already aborted signal creates nothing', async () => {
    const before = env.standIn.created.length;
    const controller = new AbortController();
    controller.abort();
    const outcome = await env.backend.runAgent(await agentRequest(env, 203, { signal: controller.signal }), () => undefined);
    assert.equal(outcome.kind, 'cancelled');
    assert.equal(env.standIn.created.length, before);
  });

  for (const how of ['cancel', 'timeout'] as const) {
    it(`${how === 'cancel' ? 'a stop' : 'the timeout'} while the pod still prepares (its init container killed by the deletion) is ${how === 'cancel' ? 'cancelled' : 'a timeout'}, not a failed preparation`, async () => {
      let preparing!: () => void;
      const inPreparation = new Promise<void>((resolve) => (preparing = resolve));
      env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
        ctx.containerStarted('airut-tools');
        preparing();
        await aborted(ctx.signal);
        // What a kubelet reports for an init container the pod's deletion stopped.
        return { container: 'airut-tools', exitCode: 137, message: 'the pod was stopped before this container started' };
      }));
      const id = how === 'cancel' ? 206 : 207;
      const run = env.backend.runAgent(await agentRequest(env, id, how === 'timeout' ? { timeoutMs: 300 } : {}), () => undefined);
      await inPreparation;
      if (how === 'cancel') assert.equal(env.backend.cancel(id), true);
      const outcome = await run;
      assert.equal(outcome.kind, how === 'cancel' ? 'cancelled' : 'timeout', JSON.stringify(outcome));
      assert.deepEqual(objectsOfTask(env.standIn, id), []);
    });
  }

  it('the timeout deletes the pod: timeout', async () => {
    let grace: number | undefined;
    const { runner } = hangingPod((ctx) => {
      grace = storedPod(env.standIn, ctx.pod.metadata!.name!)?.metadata?.deletionGracePeriodSeconds;
    });
    env.standIn.setRunner(runner);
    const outcome = await env.backend.runAgent(await agentRequest(env, 204, { timeoutMs: 300 }), () => undefined);
    assert.equal(outcome.kind, 'timeout');
    assert.equal(grace, 20);
    assert.deepEqual(objectsOfTask(env.standIn, 204), []);
  });

  it('activeDeadlineSeconds passing first (DeadlineExceeded) is a timeout too', async () => {
    const { runner, running } = hangingPod();
    env.standIn.setRunner(runner);
    const deletesBefore = env.standIn.requests.get('delete pod') ?? 0;
    const run = env.backend.runAgent(await agentRequest(env, 205), () => undefined);
    env.standIn.exceedDeadline(await running);
    const outcome = await run;
    assert.equal(outcome.kind, 'timeout', JSON.stringify(outcome));
    assert.equal((env.standIn.requests.get('delete pod') ?? 0) - deletesBefore, 1, 'only the final clean-up deleted the pod');
    assert.deepEqual(objectsOfTask(env.standIn, 205), []);
  });
});

describe('the API server refusing', () => {
  const cases = [
    { what: '403 forbidden on create secret', verb: 'create', kind: 'secret', status: 403, reason: 'Forbidden',
      message: 'secrets is forbidden: User "system:serviceaccount:airut:airut" cannot create resource "secrets"', expect: /create secret .*\(403 Forbidden\): secrets is forbidden/, sandboxed: false },
    { what: '403 quota on create pod', verb: 'create', kind: 'pod', status: 403, reason: 'Forbidden',
      message: 'pods "x" is forbidden: exceeded quota: airut, requested: pods=1, used: pods=10, limited: pods=10', expect: /create pod .*namespace quota is exceeded.*exceeded quota: airut/, sandboxed: true },
    { what: '409 on create pod', verb: 'create', kind: 'pod', status: 409, reason: 'AlreadyExists',
      message: 'pods "airut-utest-303" already exists', expect: /create pod .*\(409 AlreadyExists\): pods "airut-utest-303" already exists/, sandboxed: false },
    { what: '422 on create networkpolicy', verb: 'create', kind: 'networkpolicy', status: 422, reason: 'Invalid',
      message: 'NetworkPolicy.networking.k8s.io "x" is invalid: spec.egress[0].ports[0].port: Invalid value', expect: /create networkpolicy .*\(422 Invalid\): .*is invalid/, sandboxed: true },
  ] as const;
  let taskId = 300;
  for (const c of cases) {
    it(`${c.what}: failed, naming verb, kind and the server's message; what was created is deleted`, async () => {
      const id = ++taskId;
      env.standIn.setRunner(new ScriptedPodRunner(async () => assert.fail('no pod should run')));
      env.standIn.failNext({ verb: c.verb, kind: c.kind }, { status: c.status, reason: c.reason, message: c.message });
      const network = c.sandboxed ? await env.backend.openNetwork(sandboxedRequest(env, id)) : await env.backend.openNetwork(null);
      try {
        const outcome = await env.backend.runAgent(await agentRequest(env, id, { network }), () => undefined);
        assert.equal(outcome.kind, 'failed', JSON.stringify(outcome));
        assert.match(outcome.kind === 'failed' ? outcome.error : '', c.expect);
        assert.deepEqual(objectsOfTask(env.standIn, id), []);
      } finally {
        await network.close();
      }
    });
  }
});

describe('a pod that cannot start', () => {
  it('an init container failing is failed "preparation"', async () => {
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      return { container: 'airut-tools', exitCode: 1, message: 'wget: server returned error: HTTP/1.1 404 Not Found' };
    }));
    const outcome = await env.backend.runAgent(await agentRequest(env, 401), () => undefined);
    assert.equal(outcome.kind, 'failed', JSON.stringify(outcome));
    assert.match(outcome.kind === 'failed' ? outcome.error : '', /preparation .*failed with exit code 1: wget: server returned error/);
    assert.deepEqual(objectsOfTask(env.standIn, 401), []);
  });

  it('ImagePullBackOff: failed naming the reason, the pod deleted at once', async () => {
    let deletedWhileWaiting = false;
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      ctx.waiting('agent', 'ImagePullBackOff', 'Back-off pulling image "registry.test/airut/repo@sha256:aaaa"');
      await aborted(ctx.signal);
      deletedWhileWaiting = true;
      return { container: 'agent', exitCode: 137 };
    }));
    const outcome = await env.backend.runAgent(await agentRequest(env, 402), () => undefined);
    assert.equal(outcome.kind, 'failed', JSON.stringify(outcome));
    assert.match(outcome.kind === 'failed' ? outcome.error : '', /could not start its agent container: ImagePullBackOff \(Back-off pulling image/);
    assert.equal(deletedWhileWaiting, true);
    assert.deepEqual(objectsOfTask(env.standIn, 402), []);
  });
});

describe('the watch across API-server trouble', () => {
  for (const gone of [false, true]) {
    it(`survives ${gone ? 'a 410 Gone' : 'dropped connections'} before and while the agent runs`, async () => {
      let gate!: () => void;
      const watchedAgain = new Promise<void>((resolve) => (gate = resolve));
      env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
        ctx.containerStarted('airut-tools');
        env.standIn.dropConnections({ gone });
        ctx.containerStarted('agent');
        // The backend watched again (it saw the agent start) and follows the log.
        await watchedAgain;
        for (const line of successLines('sess-w', 'watched')) ctx.log('agent', Buffer.from(`${line}\n`));
        return { container: 'agent', exitCode: 0 };
      }));
      const logsBefore = env.standIn.requests.get('log pod') ?? 0;
      const run = env.backend.runAgent(await agentRequest(env, gone ? 502 : 501), () => undefined);
      await logFollowed(logsBefore);
      gate();
      const outcome = await run;
      assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
      assert.equal(outcome.sessionId, 'sess-w');
      assert.deepEqual(objectsOfTask(env.standIn, gone ? 502 : 501), []);
    });
  }
});

describe('the log across API-server trouble', () => {
  it('a log connection dropped mid-run: the rest of the log still arrives, no line twice', async () => {
    const lines = successLines('sess-l', 'after the drop');
    let gate!: () => void;
    const followed = new Promise<void>((resolve) => (gate = resolve));
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      ctx.containerStarted('agent');
      ctx.log('agent', Buffer.from(`${lines[0]}\n`));
      await followed;
      env.standIn.dropConnections();
      for (const line of lines.slice(1)) ctx.log('agent', Buffer.from(`${line}\n`));
      return { container: 'agent', exitCode: 0 };
    }));
    const events: string[] = [];
    const logs = env.standIn.requests.get('log pod') ?? 0;
    const run = env.backend.runAgent(await agentRequest(env, 601), (e) => events.push(e.type));
    await logFollowed(logs);
    gate();
    const outcome = await run;
    assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    assert.deepEqual(events, ['system_init', 'assistant_text', 'result']);
    assert.deepEqual(objectsOfTask(env.standIn, 601), []);
  });
});
