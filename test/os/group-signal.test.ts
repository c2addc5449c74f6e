/**
 * A stop signal sent to the daemon's whole process group (Ctrl-C on `npm start`, supervisord's
 * `stopasgroup`) is the daemon's to act on: a program it runs (a `podman rm`, a `git clone`) finishes
 * instead of dying half-way. Checked with a real process group: a Node process that runs a program
 * and is then signalled as a group, with and without the spawn helper.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runProgramUrl = new URL('../../src/os/run-program.ts', import.meta.url).href;

async function waitFor(what: string, check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const helper of [false, true]) {
  test(`SIGTERM to the group of a process running a program: the program still finishes (${helper ? 'spawn helper' : 'direct spawn'})`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airut-group-signal-'));
    try {
      const started = join(dir, 'started');
      const done = join(dir, 'done');
      const script = `
        import { runProgram } from ${JSON.stringify(runProgramUrl)};
        await runProgram('sh', ['-c', 'touch "$0"; sleep 1; touch "$1"', ${JSON.stringify(started)}, ${JSON.stringify(done)}],
          { env: { PATH: process.env.PATH }, maxStdoutBytes: 1024, stderrKeepBytes: 1024 });`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { ...process.env, AIRUT_SPAWN_HELPER: helper ? '1' : '0' },
        detached: true,
        stdio: 'ignore',
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      await waitFor('the program to start', () => existsSync(started), 30_000);
      process.kill(-child.pid!, 'SIGTERM');
      assert.equal(await exited, 'SIGTERM', 'the process of the group died of the signal');
      await waitFor('the program to finish', () => existsSync(done), 10_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
