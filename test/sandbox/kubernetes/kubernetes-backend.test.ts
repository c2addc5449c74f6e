/**
 * The Kubernetes backend's run logic without podman: the real @kubernetes/client-node against the
 * stand-in API server, the daemon's real pod gateway, and pods played in-process (EmulatedPodRunner
 * speaks pod-entry.sh's protocol; ScriptedPodRunner plays odd pods). What a run creates, what it
 * hands the pod and only through which channel, how every ending is classified, and that nothing is
 * left behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { EmulatedPodRunner, successLines } from '../../harness/kube/emulated-pod-runner.ts';
import { ScriptedPodRunner } from '../../harness/kube/pod-runner.ts';
import { validateKubeObject } from './schema-check.ts';
import { KubeApi } from '../../../src/sandbox/kubernetes/kube-api.ts';
import { gatewayTaskPaths } from '../../../src/sandbox/kubernetes/pod-gateway.ts';
import { buildTaskObjects } from '../../../src/sandbox/kubernetes/task-objects.ts';
import { taskObjectsInput } from '../../../src/sandbox/kubernetes/task-pod-input.ts';
import {
  aborted, agentRequest, commandRequest, createdForTask, eventSink, IMAGE, INSTANCE, objectsOfTask, postState, rawTar, sandboxedRequest,
  startKubeBackendEnv, TOOLS, treeOf, type KubeBackendEnv,
} from './kube-backend-harness.ts';

process.env.AIRUT_LOG_LEVEL ??= 'silent';

let env: KubeBackendEnv;
before(async () => {
  env = await startKubeBackendEnv();
});
after(async () => {
  await env?.close();
});

const failedLines = (sessionId: string, message: string): string[] => [
  JSON.stringify({ type: 'system', subtype: 'init', session_id: sessionId, model: 'claude-sonnet', tools: [] }),
  JSON.stringify({ type: 'result', subtype: 'success', is_error: true, result: message, session_id: sessionId, total_cost_usd: 0.002, num_turns: 1, duration_ms: 5 }),
];

describe('KubernetesBackend.runAgent', () => {
  it('runs the agent as a pod: events in order, success, the workspace comes back, the prompt only in the bundle, nothing left', async () => {
    let seen: { input: string; args: readonly string[]; workspace: ReadonlyMap<string, Buffer> } | null = null;
    const runner = new EmulatedPodRunner(async (run) => {
      seen = run;
      return { lines: successLines('sess-1', 'all done'), exitCode: 0, write: { 'made-by-pod.txt': 'pod wrote this\n' } };
    });
    env.standIn.setRunner(runner);
    const req = await agentRequest(env, 101);
    const { events, onEvent } = eventSink();
    const outcome = await env.backend.runAgent(req, onEvent);

    assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    assert.equal(outcome.sessionId, 'sess-1');
    assert.equal(outcome.kind === 'success' && outcome.costUsd, 0.001);
    assert.equal(outcome.kind === 'success' && outcome.result, 'all done');
    assert.deepEqual(events.map((e) => e.type), ['system_init', 'assistant_text', 'result']);
    // The workspace the pod changed is on the host; what was there stays.
    assert.equal(await fs.readFile(path.join(req.mounts.workspace, 'made-by-pod.txt'), 'utf8'), 'pod wrote this\n');
    assert.equal(await fs.readFile(path.join(req.mounts.workspace, 'before.txt'), 'utf8'), 'from the host\n');
    // The pod got the host's workspace, the prompt and the arguments, through the bundle.
    assert.ok(seen);
    const got = seen as { input: string; args: readonly string[]; workspace: ReadonlyMap<string, Buffer> };
    assert.equal(got.workspace.get('before.txt')?.toString(), 'from the host\n');
    assert.match(got.input, /PROMPT-101-only-in-the-bundle/);
    assert.deepEqual(got.args, ['--model', 'claude-sonnet-4-5', '--dangerously-skip-permissions']);
    // Neither the prompt, the arguments nor a secret value is in the pod spec.
    const created = createdForTask(env.standIn, 101);
    assert.deepEqual(created.map((c) => c.kind).sort(), ['pod', 'secret']);
    const pod = created.find((c) => c.kind === 'pod')!.body;
    const podText = JSON.stringify(pod);
    assert.doesNotMatch(podText, /PROMPT-101/);
    assert.doesNotMatch(podText, /dangerously-skip-permissions/);
    assert.doesNotMatch(podText, /sk-secret-101/);
    const secret = created.find((c) => c.kind === 'secret')!.body as unknown as { stringData: Record<string, string> };
    assert.equal(secret.stringData.API_KEY, 'sk-secret-101');
    for (const c of created) assert.doesNotThrow(() => validateKubeObject(c.body), `${c.kind} ${c.body.metadata.name} is valid`);
    // Everything deleted; the bundle files removed from the task dir.
    assert.deepEqual(objectsOfTask(env.standIn, 101), []);
    const taskDir = path.join(env.sandbox.stateDir, 'tasks', '101');
    const left: string[] = await fs.readdir(taskDir).catch(() => []);
    assert.ok(!left.includes('state-in.tar') && !left.includes('state-out.tar'), `bundle files left: ${left.join(', ')}`);
  });

  it('passes --resume, --effort and --max-budget-usd to the pod through the bundle', async () => {
    let args: readonly string[] = [];
    env.standIn.setRunner(new EmulatedPodRunner(async (run) => {
      args = run.args;
      return { lines: successLines('sess-r', 'again'), exitCode: 0 };
    }));
    const outcome = await env.backend.runAgent(await agentRequest(env, 102, { resumeSessionId: 'sess-1', effort: 'high', maxBudgetUsd: 2.5 }), () => undefined);
    assert.equal(outcome.kind, 'success');
    assert.deepEqual(args, ['--model', 'claude-sonnet-4-5', '--effort', 'high', '--max-budget-usd', '2.5', '--resume', 'sess-1', '--dangerously-skip-permissions']);
    assert.deepEqual(objectsOfTask(env.standIn, 102), []);
  });

  for (const [what, over, message] of [
    ['a model with a space', { model: 'sonnet --evil' }, /invalid agent run: model/],
    ['an unknown effort', { effort: 'extreme' as never }, /invalid agent run: effort/],
    ['a session id with a slash', { resumeSessionId: '../../etc' }, /invalid agent run: session id/],
    ['a negative budget', { maxBudgetUsd: -1 }, /invalid agent run: budget/],
  ] as const) {
    it(`refuses ${what} before anything is created`, async () => {
      const before = env.standIn.created.length;
      await assert.rejects(env.backend.runAgent(await agentRequest(env, 103, over), () => undefined), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'SANDBOX_SPEC_INVALID');
        assert.match(err.message, message);
        return true;
      });
      assert.equal(env.standIn.created.length, before, 'no object was created');
    });
  }

  it('refuses companion repository mounts (the state bundle packs fixed directories) before anything is created', async () => {
    const before = env.standIn.created.length;
    const req = { ...(await agentRequest(env, 105)), repoMounts: [{ source: '/tmp/x', target: '/repos/docs', readOnly: true }] };
    await assert.rejects(env.backend.runAgent(req, () => undefined), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'REPOS_REFUSED');
      assert.match(err.message, /cannot be mounted on the Kubernetes backend/);
      return true;
    });
    assert.equal(env.standIn.created.length, before, 'no object was created');
  });

  it('a failed run (exit 1, result is_error) is failed with its message', async () => {
    env.standIn.setRunner(new EmulatedPodRunner(async () => ({ lines: failedLines('sess-f', 'API Error: something broke'), exitCode: 1 })));
    const outcome = await env.backend.runAgent(await agentRequest(env, 104), () => undefined);
    assert.equal(outcome.kind, 'failed');
    assert.equal(outcome.kind === 'failed' && outcome.exitCode, 1);
    assert.match(outcome.kind === 'failed' ? outcome.error : '', /API Error: something broke/);
    assert.equal(outcome.sessionId, 'sess-f');
    assert.deepEqual(objectsOfTask(env.standIn, 104), []);
  });

  it('a pod that returns no state leaves the workspace as it was; the outcome still comes from the log', async () => {
    env.standIn.setRunner(new EmulatedPodRunner(async () => ({ lines: successLines('sess-n', 'done'), exitCode: 0, write: { 'lost.txt': 'x' }, skipUpload: true })));
    const req = await agentRequest(env, 105);
    const before = await treeOf(req.mounts.workspace);
    const outcome = await env.backend.runAgent(req, () => undefined);
    assert.equal(outcome.kind, 'success');
    assert.deepEqual(await treeOf(req.mounts.workspace), before);
  });

  it('exit 97 says the pod could not return the conversation state', async () => {
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      ctx.containerStarted('agent');
      for (const line of successLines('sess-97', 'done')) ctx.log('agent', Buffer.from(`${line}\n`));
      return { container: 'agent', exitCode: 97 };
    }));
    const outcome = await env.backend.runAgent(await agentRequest(env, 106), () => undefined);
    assert.equal(outcome.kind, 'failed', JSON.stringify(outcome));
    assert.match(outcome.kind === 'failed' ? outcome.error : '', /could not return the conversation state/);
    assert.deepEqual(objectsOfTask(env.standIn, 106), []);
  });

  const hostile: Array<[string, Parameters<typeof rawTar>[0]]> = [
    ['a path with ..', [{ name: 'workspace/' , type: 'directory' as const }, { name: 'workspace/../escaped.txt', body: 'out' }]],
    ['an absolute path', [{ name: '/tmp/airut-abs.txt', body: 'out' }]],
    ['a symlink leaving its tree', [{ name: 'workspace/', type: 'directory' as const }, { name: 'workspace/link', type: 'symlink' as const, linkname: '/etc/passwd' }]],
    ['a hard link', [{ name: 'workspace/', type: 'directory' as const }, { name: 'workspace/a', body: 'a' }, { name: 'workspace/b', type: 'link' as const, linkname: 'workspace/a' }]],
  ];
  for (const [what, entries] of hostile) {
    it(`refuses a returned state with ${what}; the host dirs are unchanged`, async () => {
      let posted = 0;
      env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
        ctx.containerStarted('airut-tools');
        ctx.containerStarted('agent');
        for (const line of successLines('sess-h', 'done')) ctx.log('agent', Buffer.from(`${line}\n`));
        posted = await postState(ctx, await rawTar([...entries, { name: 'workspace/planted.txt', body: 'planted' }]));
        return { container: 'agent', exitCode: 0 };
      }));
      const req = await agentRequest(env, 107);
      const before = await treeOf(path.dirname(req.mounts.workspace));
      const outcome = await env.backend.runAgent(req, () => undefined);
      assert.equal(posted, 200, 'the gateway took the tar (the backend checks it)');
      assert.equal(outcome.kind, 'failed', JSON.stringify(outcome));
      assert.match(outcome.kind === 'failed' ? outcome.error : '', /conversation state the pod returned was refused/);
      assert.deepEqual(await treeOf(path.dirname(req.mounts.workspace)), before);
      await assert.rejects(fs.stat(path.join(path.dirname(req.mounts.workspace), 'escaped.txt')));
      assert.deepEqual(objectsOfTask(env.standIn, 107), []);
    });
  }
});

describe('KubernetesBackend.openNetwork', () => {
  it('sandboxed: the token file, the proxy URL only in the Secret, a policy allowing only the gateway; close() removes the task dir', async () => {
    const network = await env.backend.openNetwork(sandboxedRequest(env, 701));
    const tokenFile = gatewayTaskPaths(env.sandbox.stateDir, 701).tokenFile;
    const token = (await fs.readFile(tokenFile, 'utf8')).trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await fs.stat(tokenFile)).mode & 0o777, 0o600);
    assert.equal(network.sandboxed, true);
    assert.ok(!JSON.stringify(network.env).includes(token), 'the token is not a plain variable');
    env.standIn.setRunner(new EmulatedPodRunner(async (run) => {
      return { lines: successLines('sess-net', run.podName), exitCode: 0 };
    }));
    const outcome = await env.backend.runAgent(await agentRequest(env, 701, { network }), () => undefined);
    assert.equal(outcome.kind, 'success', JSON.stringify(outcome));
    const created = createdForTask(env.standIn, 701);
    assert.deepEqual(created.map((c) => c.kind).sort(), ['networkpolicy', 'pod', 'secret', 'secret']);
    for (const c of created) assert.doesNotThrow(() => validateKubeObject(c.body), `${c.kind} ${c.body.metadata.name} is valid`);
    const envSecret = created.find((c) => c.kind === 'secret' && c.body.metadata.name.endsWith('-env'))!.body as unknown as { stringData: Record<string, string> };
    assert.equal(envSecret.stringData.HTTPS_PROXY, `http://task-701:${token}@127.0.0.1:${env.gateway.port}`);
    assert.equal(envSecret.stringData.AIRUT_GATEWAY_TOKEN, token);
    const podText = JSON.stringify(created.find((c) => c.kind === 'pod')!.body);
    assert.ok(!podText.includes(token), 'the token is not in the pod spec');
    assert.match(podText, /"name":"NODE_EXTRA_CA_CERTS","value":"\/etc\/airut\/ca.crt"/);
    const policy = created.find((c) => c.kind === 'networkpolicy')!.body as unknown as {
      spec: { policyTypes: string[]; ingress?: unknown[]; egress: Array<{ to: Array<{ ipBlock: { cidr: string } }>; ports: Array<{ protocol: string; port: number }> }> };
    };
    assert.deepEqual(policy.spec.policyTypes.sort(), ['Egress', 'Ingress']);
    assert.deepEqual(policy.spec.ingress ?? [], []);
    assert.deepEqual(policy.spec.egress, [{ to: [{ ipBlock: { cidr: '127.0.0.1/32' } }], ports: [{ protocol: 'TCP', port: env.gateway.port }] }]);
    assert.deepEqual(objectsOfTask(env.standIn, 701), []);
    await network.close();
    await assert.rejects(fs.stat(gatewayTaskPaths(env.sandbox.stateDir, 701).dir));
  });

  it('unsandboxed: no policy, no proxy variables', async () => {
    env.standIn.setRunner(new EmulatedPodRunner(async () => ({ lines: successLines('sess-u', 'ok'), exitCode: 0 })));
    const outcome = await env.backend.runAgent(await agentRequest(env, 702), () => undefined);
    assert.equal(outcome.kind, 'success');
    const created = createdForTask(env.standIn, 702);
    assert.deepEqual(created.map((c) => c.kind).sort(), ['pod', 'secret']);
    assert.doesNotMatch(JSON.stringify(created), /HTTPS?_PROXY/i);
  });
});

describe('KubernetesBackend.reap', () => {
  it("deletes this instance's pods, Secrets and policies (every task), leaves another instance's, and waits until the pods are gone", async () => {
    const api = KubeApi.connect(env.settings.connection);
    const objectsFor = (instance: string, taskId: number) => buildTaskObjects(taskObjectsInput(env.settings,
      { instance, toolsImage: TOOLS, token: 'tok', net: null, files: {} },
      { kind: 'agent', taskId, labels: { repo: 'api', conversation: 'c' }, image: IMAGE, env: {}, sandboxEnv: {}, timeoutMs: 60_000 }));
    // Pods that run until deleted and take a moment to stop, as real ones do.
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      ctx.containerStarted('agent');
      await aborted(ctx.signal);
      await new Promise((r) => setTimeout(r, 200));
      return { container: 'agent', exitCode: 143 };
    }));
    for (const [instance, taskId] of [[INSTANCE, 801], [INSTANCE, 802], ['other', 803]] as const) {
      const o = objectsFor(instance, taskId);
      await api.createSecret(o.secret);
      await api.createNetworkPolicy(o.networkPolicy);
      await api.createPod(o.pod);
    }
    const report = await env.backend.reap();
    assert.deepEqual(report.failed, []);
    assert.deepEqual(report.reaped.map((r) => r.name.split('/')[0]).sort(), ['networkpolicy', 'networkpolicy', 'pod', 'pod', 'secret', 'secret']);
    assert.deepEqual(new Set(report.reaped.map((r) => r.labels.task)), new Set(['801', '802']));
    // reap() returned only once the pods were gone, not merely terminating.
    assert.deepEqual(objectsOfTask(env.standIn, 801), []);
    assert.deepEqual(objectsOfTask(env.standIn, 802), []);
    assert.equal(objectsOfTask(env.standIn, 803, 'other').length, 3, "another instance's objects are untouched");
    const other = objectsFor('other', 803);
    for (const [kind, name] of [['pod', other.pod], ['secret', other.secret], ['networkpolicy', other.networkPolicy]] as const) await api.delete(kind, name.metadata!.name!, 0);
  });

  it('reap({ taskId }) deletes only that task', async () => {
    const api = KubeApi.connect(env.settings.connection);
    for (const taskId of [811, 812]) {
      await api.createSecret(buildTaskObjects(taskObjectsInput(env.settings,
        { instance: INSTANCE, toolsImage: TOOLS, token: 'tok', net: null, files: {} },
        { kind: 'agent', taskId, labels: {}, image: IMAGE, env: {}, sandboxEnv: {}, timeoutMs: 60_000 })).secret);
    }
    const report = await env.backend.reap({ taskId: 811 });
    assert.deepEqual(report.reaped.map((r) => r.labels.task), ['811']);
    assert.equal(objectsOfTask(env.standIn, 812).length, 1);
    await env.backend.reap({ taskId: 812 });
  });
});

describe('KubernetesBackend.runCommand', () => {
  it('captures the output, truncated at outputLimitBytes, with the exit code; the workspace comes back', async () => {
    let command: string | null = null;
    env.standIn.setRunner(new EmulatedPodRunner(async (run) => {
      command = run.command;
      return { lines: ['x'.repeat(1000), 'y'.repeat(1000)], exitCode: 3, write: { 'cmd-made.txt': 'by the command' } };
    }));
    const req = await commandRequest(env, 901, { command: 'make check', outputLimitBytes: 1500 });
    const outcome = await env.backend.runCommand(req);
    assert.equal(command, 'make check');
    assert.equal(outcome.kind, 'exited', JSON.stringify(outcome));
    if (outcome.kind !== 'exited') return;
    assert.equal(outcome.exitCode, 3);
    assert.equal(outcome.output, `${'x'.repeat(1000)}\n${'y'.repeat(499)}`);
    assert.equal(outcome.truncatedBytes, 502);
    assert.equal(await fs.readFile(path.join(req.workspace, 'cmd-made.txt'), 'utf8'), 'by the command');
    assert.ok(!JSON.stringify(createdForTask(env.standIn, 901).find((c) => c.kind === 'pod')!.body).includes('make check'), 'the command is not in the pod spec');
    assert.deepEqual(objectsOfTask(env.standIn, 901), []);
  });

  it('a command whose returned workspace is refused does not count as exit 0; the reason is in its error output', async () => {
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      ctx.containerStarted('agent');
      ctx.log('agent', Buffer.from('all good\n'));
      await postState(ctx, await rawTar([{ name: 'workspace/', type: 'directory' as const }, { name: 'workspace/../escaped.txt', body: 'out' }]));
      return { container: 'agent', exitCode: 0 };
    }));
    const req = await commandRequest(env, 904);
    const before = await treeOf(req.workspace);
    const outcome = await env.backend.runCommand(req);
    assert.equal(outcome.kind, 'exited', JSON.stringify(outcome));
    if (outcome.kind !== 'exited') return;
    assert.equal(outcome.exitCode, 125, 'the schedule ends without the agent instead of running it on a workspace that did not come back');
    assert.match(outcome.stderrTail, /conversation state the pod returned was refused/);
    assert.deepEqual(await treeOf(req.workspace), before);
    assert.deepEqual(objectsOfTask(env.standIn, 904), []);
  });

  it('a command that outlives its timeout: timeout, pod deleted', async () => {
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      ctx.containerStarted('agent');
      ctx.log('agent', Buffer.from('working\n'));
      await aborted(ctx.signal);
      return { container: 'agent', exitCode: 143 };
    }));
    const outcome = await env.backend.runCommand(await commandRequest(env, 902, { timeoutMs: 300 }));
    assert.equal(outcome.kind, 'timeout', JSON.stringify(outcome));
    assert.deepEqual(objectsOfTask(env.standIn, 902), []);
  });

  it('backend.cancel stops a command: cancelled, pod deleted', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    env.standIn.setRunner(new ScriptedPodRunner(async (ctx) => {
      ctx.containerStarted('airut-tools');
      ctx.containerStarted('agent');
      started();
      await aborted(ctx.signal);
      return { container: 'agent', exitCode: 143 };
    }));
    const run = env.backend.runCommand(await commandRequest(env, 903));
    await running;
    assert.equal(env.backend.cancel(903), true);
    assert.equal((await run).kind, 'cancelled');
    assert.deepEqual(objectsOfTask(env.standIn, 903), []);
  });
});
