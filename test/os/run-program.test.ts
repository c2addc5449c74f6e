/**
 * Programs started through the spawn helper: the same results as a direct spawn (exit codes,
 * signals, binary stdout, stdin, stderr tail, timeout, output limit, a missing program), from a
 * process that is the helper's child, and a helper that dies fails only what it was running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runProgram } from '../../src/os/run-program.ts';
import { helperFor } from '../../src/os/spawn-helper.ts';

const base = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, maxStdoutBytes: 64 * 1024 * 1024, stderrKeepBytes: 64 };

// The helper is opt-in (spawn-helper.ts); these tests are about it.
process.env.AIRUT_SPAWN_HELPER = '1';

test('programs run as children of the helper, not of this process', async () => {
  const helper = await helperFor();
  assert.ok(helper, 'the helper starts under this Node');
  const r = await runProgram('sh', ['-c', 'echo $PPID'], base);
  assert.equal(Number(r.stdout.toString().trim()), helper.pid);
  assert.notEqual(Number(r.stdout.toString().trim()), process.pid);
});

test('exit code, stderr tail, stdin and binary stdout come back exactly', async () => {
  const bytes = randomBytes(3 * 1024 * 1024);
  const cat = await runProgram('cat', [], { ...base, input: bytes });
  assert.equal(cat.code, 0);
  assert.ok(cat.stdout.equals(bytes), 'stdin to stdout, byte for byte');
  const failing = await runProgram('sh', ['-c', 'printf "%0200d" 0 >&2; echo out; exit 3'], base);
  assert.equal(failing.code, 3);
  assert.equal(failing.stdout.toString(), 'out\n');
  assert.equal(failing.stderr.length, 64, 'only the stderr tail is kept');
  const env = await runProgram('sh', ['-c', 'echo "$ONLY_THIS"'], { ...base, env: { ...base.env, ONLY_THIS: 'x y' }, cwd: '/tmp' });
  assert.equal(env.stdout.toString(), 'x y\n');
  const cwd = await runProgram('pwd', [], { ...base, cwd: '/tmp' });
  assert.equal(cwd.stdout.toString(), '/tmp\n');
});

test('a timeout kills the program; too much output kills it and keeps what fit', async () => {
  const slow = await runProgram('sleep', ['30'], { ...base, timeoutMs: 200 });
  assert.equal(slow.timedOut, true);
  assert.equal(slow.signal, 'SIGKILL');
  const loud = await runProgram('sh', ['-c', 'yes | head -c 10000000'], { ...base, maxStdoutBytes: 100_000 });
  assert.equal(loud.overflow, true);
  assert.ok(loud.stdout.length <= 100_000);
});

test('a missing program rejects with ENOENT, like a direct spawn', async () => {
  await assert.rejects(runProgram('airut-no-such-program', [], base), { code: 'ENOENT' });
});

test('many programs at once each get their own output', async () => {
  const runs = await Promise.all(Array.from({ length: 30 }, (_, i) => runProgram('sh', ['-c', `echo ${i}; sleep 0.0${i % 10}`], base)));
  assert.deepEqual(runs.map((r) => r.stdout.toString().trim()), Array.from({ length: 30 }, (_, i) => String(i)));
});

test('a helper that dies fails what it ran; the next program starts a new helper', async () => {
  const helper = (await helperFor())!;
  const running = runProgram('sleep', ['30'], base);
  await new Promise((r) => setTimeout(r, 100));
  helper.kill();
  await assert.rejects(running, /spawn helper exited/);
  const next = await runProgram('echo', ['again'], base);
  assert.equal(next.stdout.toString(), 'again\n');
  assert.notEqual((await helperFor())!.pid, helper.pid);
});

test('without AIRUT_SPAWN_HELPER=1 programs are started directly, with the same results', async () => {
  process.env.AIRUT_SPAWN_HELPER = '0';
  try {
    assert.equal(await helperFor(), null);
    const r = await runProgram('sh', ['-c', 'echo $PPID; exit 4'], base);
    assert.equal(Number(r.stdout.toString().trim()), process.pid);
    assert.equal(r.code, 4);
  } finally {
    process.env.AIRUT_SPAWN_HELPER = '1';
  }
});
