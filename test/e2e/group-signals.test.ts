/**
 * Issue 17 end to end: the daemon started as `npm start` in its own process group, with a task
 * running in its container, and a signal sent to the WHOLE group, as Ctrl-C in a terminal does
 * (SIGINT) and as a process manager that signals a group does (SIGTERM: systemd's
 * `KillMode=control-group`, supervisord's `stopasgroup`). The daemon gets its own copy and the one
 * npm forwards: that is one stop request, the task drains and everything exits 0. A deliberate
 * second request later forces exit 1; SIGHUP does not stop the daemon.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import { startDaemon, waitUntil, writeTestConfig, type DaemonProcess, type LogLine, type TestConfig } from '../harness/daemon-process.ts';
import { DEFAULT_SAME_EVENT_WINDOW_MS } from '../../src/daemon/stop-signals.ts';
import { alive } from '../harness/processes.ts';

let env: E2eEnv;

before(async () => {
  env = await startE2eEnv({ repoIds: ['alpha'] });
});

after(async () => {
  await env?.stop();
});

const isStopAck = (l: LogLine) => l.msg.startsWith('stop requested (signal ');
const isForced = (l: LogLine) => l.msg.startsWith('second stop request');

/** `npm start` in its own process group, one repo, a generous shutdown_timeout so a short task drains. */
async function npmDaemon(shutdownTimeout = 120): Promise<{ cfg: TestConfig; daemon: DaemonProcess }> {
  const alpha = await env.repo('alpha', repoYaml());
  const cfg = writeTestConfig({
    repos: [alpha],
    global: {
      container_command: env.runtime.command,
      container_network: 'host',
      execution: { max_concurrent: 1, shutdown_timeout: shutdownTimeout },
    },
  });
  const daemon = startDaemon(cfg, [], env.podmanEnv, { ownProcessGroup: true, viaNpm: true });
  await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'the daemon to run');
  return { cfg, daemon };
}

/** Kills what a failed or forced test leaves: the group, then the task's container. */
async function cleanUp(cfg: TestConfig, daemon: DaemonProcess, taskId?: number): Promise<void> {
  if (daemon.child.exitCode === null && daemon.child.signalCode === null) await daemon.killGroup();
  if (taskId === undefined) return;
  const names = env.containersOf(cfg, taskId).split('\n').filter(Boolean);
  if (names.length > 0) env.runtime.cli(['rm', '-f', ...names]);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} to npm start's whole process group while a task runs: one stop request, the task finishes, exit 0`, { timeout: 240_000 }, async () => {
    const { cfg, daemon } = await npmDaemon();
    let taskId: number | undefined;
    try {
      // The agent answers after a few seconds: long enough to be running when the signal comes.
      const mail = await env.send('alpha', 'Long work', '[[sleep:8000]] then answer');
      taskId = await env.runningTaskWithContainer(cfg, mail);
      daemon.signalGroup(signal);

      assert.equal(await daemon.exited, 0, `npm's exit status; last output:\n${daemon.otherOutput.slice(-10).join('\n')}`);
      const acks = daemon.logs.filter(isStopAck);
      assert.equal(acks.length, 1, 'acknowledged once, however many copies arrived');
      assert.equal(acks[0]!.signal, signal);
      assert.equal(acks[0]!.msg, `stop requested (signal ${signal}): draining; send it again to force`);
      assert.ok(!daemon.logs.some(isForced), 'no copy was taken as a second request');
      assert.ok(daemon.logs.some((l) => l.msg === 'airut-ts stopped'), 'the graceful stop finished');
      assert.equal(taskFor(cfg, mail)?.status, 'completed', 'the running task drained');
      assert.equal(env.finalRepliesTo(mail).length, 1, 'its reply went out before the exit');
    } finally {
      await cleanUp(cfg, daemon, taskId);
    }
  });
}

test('SIGTERM to the whole group, a task that does not finish: interrupted after shutdown_timeout, exit 0', { timeout: 240_000 }, async () => {
  const { cfg, daemon } = await npmDaemon(3);
  let taskId: number | undefined;
  try {
    const mail = await env.send('alpha', 'Never ends', '[[stall]]');
    taskId = await env.runningTaskWithContainer(cfg, mail);
    daemon.signalGroup('SIGTERM');
    assert.equal(await daemon.exited, 0, `npm's exit status; last output:\n${daemon.otherOutput.slice(-10).join('\n')}`);
    assert.equal(daemon.logs.filter(isStopAck).length, 1);
    assert.ok(!daemon.logs.some(isForced));
    assert.equal(taskFor(cfg, mail)?.status, 'interrupted', 'stopped after the grace time, to resume after the next start');
  } finally {
    await cleanUp(cfg, daemon, taskId);
  }
});

test('a second stop request after the first was acknowledged forces exit 1 without draining', { timeout: 240_000 }, async () => {
  const { cfg, daemon } = await npmDaemon();
  let taskId: number | undefined;
  try {
    const mail = await env.send('alpha', 'Never ends', '[[stall]]');
    taskId = await env.runningTaskWithContainer(cfg, mail);
    daemon.signalGroup('SIGINT');
    await daemon.waitForLog(isStopAck, 30_000, 'the stop request to be acknowledged');
    // A person pressing Ctrl-C again: later than any copy of the first signal.
    await new Promise((r) => setTimeout(r, DEFAULT_SAME_EVENT_WINDOW_MS + 1000));
    daemon.signalGroup('SIGINT');

    assert.equal(await daemon.exited, 1);
    assert.ok(daemon.logs.some((l) => isForced(l) && l.level === 'warn'), 'the forced exit is logged');
    assert.ok(!daemon.logs.some((l) => l.msg === 'airut-ts stopped'), 'it did not wait for the drain');
  } finally {
    await cleanUp(cfg, daemon, taskId);
  }
});

// npm itself dies of SIGHUP (it neither handles nor forwards it), as it does when a terminal closes;
// the daemon, its child, keeps running in the same process group and is watched by its pid.
test('SIGHUP to the whole group does not stop the daemon; a later SIGTERM still drains it', { timeout: 240_000 }, async () => {
  const { cfg, daemon } = await npmDaemon();
  const daemonPid = daemon.logs.find((l) => l.msg === 'airut-ts is running')!.pid as number;
  try {
    daemon.signalGroup('SIGHUP');
    await waitUntil(() => daemon.logs.some((l) => l.msg.startsWith('SIGHUP:')), 30_000, 'the SIGHUP to be logged');
    // Still serving: a mail sent after the SIGHUP gets its reply.
    const mail = await env.send('alpha', 'After the hangup', 'hello');
    await env.finalReplyTo(mail);
    assert.ok(alive(daemonPid), 'the daemon is still running');
    assert.ok(!daemon.logs.some(isStopAck), 'SIGHUP is no stop request');

    daemon.signalGroup('SIGTERM');
    await waitUntil(() => !alive(daemonPid), 60_000, 'the daemon to exit');
    assert.ok(daemon.logs.some((l) => l.msg === 'airut-ts stopped'), 'the graceful stop finished');
    assert.ok(!daemon.logs.some(isForced));
  } finally {
    if (alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
    await cleanUp(cfg, daemon);
  }
});
