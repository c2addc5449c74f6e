/**
 * Issue 13, items 7 and 8, end to end: the real daemon, real podman, the real Claude Code CLI
 * (scripted through the mock Anthropic API), real Dovecot and SMTP. What a hostile agent leaves
 * behind — sparse multi-GiB outbox files, a file over the cap, a symlink to a host file, a FIFO, a
 * flood of events — must not take the daemon down, must not reach the reply, and must not stop the
 * conversation from going on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { waitUntil } from '../harness/daemon-process.ts';
import { readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';

let env: E2eEnv;

before(async () => {
  env = await startE2eEnv({ repoIds: ['outbox', 'chatty'] });
});

after(async () => {
  await env?.stop();
});

// Three 3 GiB sparse files (9 GiB of zeros if read, no disk), 11 MiB of real data (over the default
// 10 MiB per file), a symlink to a host file, a FIFO nobody writes to, and one ordinary file.
const HOSTILE_OUTBOX = [
  'truncate -s 3G /outbox/huge-1.bin',
  'truncate -s 3G /outbox/huge-2.bin',
  'truncate -s 3G /outbox/huge-3.bin',
  'head -c 11534336 /dev/urandom > /outbox/over.bin',
  'ln -s /etc/passwd /outbox/link.txt',
  'mkfifo /outbox/pipe',
  'echo fine > /outbox/ok.txt',
  'echo written',
].join(' && ');

test('sparse 3 GiB outbox files and one over the cap are listed as not attached; the daemon stays up and the conversation goes on', async () => {
  const repo = await env.repo('outbox', repoYaml());
  const { cfg, daemon } = env.daemonWith([repo], 1);
  try {
    const m1 = await env.send('outbox', 'Make files', `[[bash:${HOSTILE_OUTBOX}]]`);
    const reply = await env.finalReplyTo(m1, 120_000);
    assert.equal(taskFor(cfg, m1)?.status, 'completed', 'the task completes');
    assert.deepEqual(reply.attachments.map((a) => a.filename), ['ok.txt'], 'only the ordinary file is attached');
    assert.equal(reply.attachments[0]!.content.toString(), 'fine\n');
    const text = reply.text ?? '';
    assert.match(text, /Not attached/);
    for (const name of ['huge-1.bin', 'huge-2.bin', 'huge-3.bin']) {
      assert.match(text, new RegExp(`${name.replace('.', '\\.')}\\S* \\(3 GiB\\): larger than the limit of 10 MiB per file`));
    }
    assert.match(text, /over\.bin\S* \(11 MiB\): larger than the limit of 10 MiB per file/);
    assert.match(text, /link\.txt\S*: a symbolic link/);
    assert.match(text, /pipe\S*: a named pipe/);
    assert.ok(reply.raw.length < 1024 * 1024, `the reply stays small (${reply.raw.length} bytes)`);

    const conversationId = reply.header('x-airut-conversation')!;
    const convDir = path.join(cfg.dir, 'storage', 'outbox', 'conversations', conversationId);
    assert.deepEqual(fs.readdirSync(path.join(convDir, 'outbox')), [], 'outbox cleared');
    const spool = path.join(cfg.dir, 'storage', 'outbox', 'outgoing-mail');
    await waitUntil(() => fs.readdirSync(spool).length === 0 || undefined, 10_000, 'the spool file to be removed after sending');

    // The next task of the conversation runs normally (before the fix it failed on the files left behind).
    const m2 = await env.send('outbox', `Re: ${reply.subject}`, 'And now something else', { inReplyTo: reply.messageId!, references: [m1, reply.messageId!] });
    const reply2 = await env.finalReplyTo(m2, 120_000);
    assert.equal(reply2.header('x-airut-conversation'), conversationId);
    assert.equal(taskFor(cfg, m2)?.status, 'completed');
    assert.doesNotMatch(reply2.text ?? '', /Not attached/);
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('an agent that prints more events than task_output.max_events still completes with its reply; a marker says what was cut', async () => {
  const repo = await env.repo('chatty', repoYaml());
  const { cfg, daemon } = env.daemonWith([repo], 1, { task_output: { max_events: 10 } });
  try {
    // The agent floods the CLI's own stdout (PID 1 of the container) with 300 stream-json lines.
    const flood = `for i in $(seq 1 300); do echo '{"type":"assistant","message":{"content":"flood"}}' > /proc/1/fd/1; done; echo flooded`;
    const m = await env.send('chatty', 'Talk a lot', `[[bash:${flood}]]`);
    const reply = await env.finalReplyTo(m, 120_000);
    const task = taskFor(cfg, m)!;
    assert.equal(task.status, 'completed');
    assert.match(reply.text ?? '', /TOOL OUTPUT/, 'the reply carries the answer');
    const events = readDb(cfg, (db) => db.prepare('SELECT kind, data FROM task_events WHERE task_id = ? ORDER BY id').all(task.id) as Array<{ kind: string; data: string }>)!;
    const kinds = events.map((e) => e.kind);
    assert.equal(kinds.at(-1), 'result', 'the final result is stored');
    assert.ok(kinds.length <= 10 + 2, `at most the cap, the marker and the result are stored (${kinds.join(', ')})`);
    const marker = events.find((e) => e.kind === 'output_truncated');
    assert.ok(marker, 'a marker event says output was cut');
    const cut = JSON.parse(marker.data) as { message: string; dropped: number };
    assert.ok(cut.dropped >= 290, `the flood was counted (${cut.dropped})`);
    assert.match(cut.message, /^output truncated: [\d,]+ further events not stored; the limit is 10 per task$/);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
