/**
 * `npm run demo` as an operator runs it: every demo mail gets its answer, and Ctrl-C (SIGINT to the
 * process group, as a terminal sends it) stops everything — no container, server or directory left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { instanceId } from '../../src/instance-id.ts';
import { PROJECT_ROOT, waitUntil } from '../harness/daemon-process.ts';
import { podmanTestEnv } from '../harness/podman-env.ts';

const podmanEnv = podmanTestEnv();

interface DemoRun {
  readonly output: () => string;
  readonly exited: Promise<number | string>;
  readonly pid: number;
}

/** A path for the demo's directory; the demo creates and removes it, the test removes the parent. */
function demoDir(t: { after: (fn: () => void) => void }): string {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-demo-e2e-'));
  t.after(() => fs.rmSync(parent, { recursive: true, force: true }));
  return path.join(parent, 'state');
}

function runDemo(dir: string, args: string[], env: Record<string, string> = {}): DemoRun {
  // Its own process group, like a shell job: SIGINT to the group is what Ctrl-C does.
  const child = spawn('npm', ['run', '--silent', 'demo', '--', '--dir', dir, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...podmanEnv, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  process.once('exit', () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  return { output: () => out, exited, pid: child.pid! };
}

function containersOf(dir: string, state: 'all' | 'running' = 'all'): string[] {
  const args = ['ps', ...(state === 'all' ? ['-a'] : []), '--filter', `label=airut.instance=${instanceId(path.join(dir, 'airut.db'))}`, '--format', '{{.Names}}'];
  return execFileSync('podman', args, { env: { ...process.env, ...podmanEnv } })
    .toString()
    .split('\n')
    .filter((l) => l.trim());
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** The ports the demo printed: IMAP, SMTP, mock API, dashboard. */
function printedPorts(output: string): number[] {
  const m = /IMAP\) on 127\.0\.0\.1:(\d+), SMTP on 127\.0\.0\.1:(\d+), stand-in Anthropic API on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
  const d = /Dashboard:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
  assert.ok(m && d, `the demo prints its servers and the dashboard URL:\n${output}`);
  return [m[1], m[2], m[3], d[1]].map(Number);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms; output:\n${output()}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('npm run demo -- --exit-after-replies: every demo mail is answered, then everything is stopped and removed', async (t) => {
  const dir = demoDir(t);
  const demo = runDemo(dir, ['--exit-after-replies'], { AIRUT_DEMO_AGENT_DELAY_MS: '0' });
  const code = await withTimeout(demo.exited, 240_000, 'the demo did not finish', demo.output);
  const out = demo.output();
  assert.equal(code, 0, out);
  const ports = printedPorts(out);

  // Three mails out, three answers back (plus an acknowledgement per new conversation), in the same threads.
  assert.equal((out.match(/^→ /gm) ?? []).length, 3, out);
  assert.equal((out.match(/^← \w+: acknowledgement/gm) ?? []).length, 2, out);
  assert.equal((out.match(/^← \w+: reply/gm) ?? []).length, 3, out);
  assert.match(out, /HELLO, ALICE!/, 'the agent edited greet.sh and ran it');
  assert.match(out, /usage: greet\.sh \[--shout\] \[NAME\]/, 'the follow-up continued the same workspace');
  assert.match(out, /todo-report\.md \(\d+ bytes\)/, 'the handbook answer carries the outbox file');
  const convIds = [...out.matchAll(/Subject: Re: \[ID:([0-9a-f]{8})\] Add a --shout option/g)].map((m) => m[1]);
  assert.ok(convIds.length >= 3 && new Set(convIds).size === 1, 'the follow-up and its answer stay in the first thread');
  assert.match(out, /All 3 demo mails are answered/);

  assert.deepEqual(containersOf(dir), []);
  assert.equal(fs.existsSync(dir), false, 'the demo directory is removed');
  for (const port of ports) assert.equal(await listening(port), false, `port ${port} is closed`);
});

test('Ctrl-C while a task runs: the demo stops the daemon, its containers and the servers, and exits 0', async (t) => {
  const dir = demoDir(t);
  // A slow stand-in model keeps the first tasks' containers running long enough to interrupt them.
  const demo = runDemo(dir, [], { AIRUT_DEMO_AGENT_DELAY_MS: '3000' });
  try {
    await withTimeout(
      waitUntil(() => containersOf(dir, 'running').length > 0, 200_000, 'a demo task container to run', 250),
      210_000,
      'no demo container ran',
      demo.output,
    );
    const ports = printedPorts(demo.output());
    process.kill(-demo.pid, 'SIGINT');
    const code = await withTimeout(demo.exited, 90_000, 'the demo did not stop after SIGINT', demo.output);
    const out = demo.output();
    assert.equal(code, 0, out);
    assert.match(out, /SIGINT: stopping the demo/);
    assert.match(out, /nothing is left running/);
    assert.deepEqual(containersOf(dir), [], 'no container of the demo is left');
    assert.equal(fs.existsSync(dir), false, 'the demo directory is removed');
    for (const port of ports) assert.equal(await listening(port), false, `port ${port} is closed`);
  } finally {
    try {
      process.kill(-demo.pid, 'SIGKILL');
    } catch {
      // exited
    }
  }
});
