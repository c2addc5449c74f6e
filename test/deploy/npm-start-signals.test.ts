/**
 * What systemd (SIGTERM, KillMode=mixed) and pm2 (SIGINT, treekill off) do on stop: signal `npm`,
 * the main process, and nothing else. The daemon must get that signal once, shut down gracefully
 * and leave no process behind, and npm must exit 0 (so that systemd does not count a failure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PROJECT_ROOT, writeTestConfig } from '../harness/daemon-process.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';
import { freePort } from '../harness/ports.ts';
import { alive } from '../harness/processes.ts';

interface Line {
  msg?: string;
  pid?: number;
  signal?: string;
}

async function stopWith(signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const cfg = writeTestConfig({ repos: [{ id: 'api', user: 'bot', password: 'pw-1234', imapPort: await freePort() }] });
  const npm = spawn('npm', ['--silent', 'start', '--', '--config', cfg.configPath], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...cfg.env, ...podmanTestEnv(), NPM_CONFIG_UPDATE_NOTIFIER: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  const other: string[] = [];
  let running: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (running = resolve));
  let buf = '';
  npm.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const l = JSON.parse(text) as Line;
        lines.push(l);
        if (l.msg === 'airut-ts is running') running();
      } catch {
        other.push(text);
      }
    }
  });
  npm.stderr.setEncoding('utf8').on('data', (chunk: string) => other.push(chunk));
  const exited = new Promise<number | string>((resolve) => npm.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown')));

  let daemonPid = 0;
  try {
    await Promise.race([started, exited.then((c) => Promise.reject(new Error(`npm start exited (${c}) before the daemon ran:\n${other.join('\n')}`)))]);
    daemonPid = lines.find((l) => l.msg === 'airut-ts is running')!.pid!;
    assert.notEqual(daemonPid, npm.pid, 'the daemon is its own process under npm');

    npm.kill(signal); // npm only, as KillMode=mixed and pm2's treekill: false do
    assert.equal(await exited, 0, `npm exit; output:\n${other.join('\n')}`);

    const shutdown = lines.filter((l) => l.msg?.startsWith('stop requested'));
    assert.equal(shutdown.length, 1, 'the daemon got the signal once');
    assert.equal(shutdown[0]!.signal, signal);
    assert.ok(!lines.some((l) => l.msg?.startsWith('second stop request')));
    assert.ok(lines.some((l) => l.msg === 'airut-ts stopped'), 'graceful stop finished');
    assert.equal(alive(daemonPid), false, 'no daemon process left behind');
  } finally {
    // A daemon that missed the signal would outlive the test (that is the bug this test catches).
    if (daemonPid && alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
    if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
  }
}

test('npm start: SIGTERM to npm (systemd) stops the daemon gracefully, once', { timeout: 90_000 }, () => stopWith('SIGTERM'));

test('npm start: SIGINT to npm (pm2) stops the daemon gracefully, once', { timeout: 90_000 }, () => stopWith('SIGINT'));
