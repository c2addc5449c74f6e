/**
 * Issue 20, item 8, end to end: the real daemon, podman, the Claude Code CLI (scripted through the
 * mock Anthropic API), Dovecot and SMTP. A mail's attachment and the outbox file the agent writes
 * are kept per task and download byte-identical from the dashboard; once GC archives the
 * conversation they are gone (404) and their rows say why.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { waitUntil } from '../harness/daemon-process.ts';
import { openDatabase } from '../../src/store/database.ts';
import { freePort } from '../harness/ports.ts';
import { readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';

let env: E2eEnv;

before(async () => {
  env = await startE2eEnv({ repoIds: ['files'] });
});

after(async () => {
  await env?.stop();
});

interface FileJson {
  id: number;
  direction: string;
  name: string;
  size: number;
  downloadUrl: string | null;
  note: string | null;
}

async function filesOf(base: string, taskId: number): Promise<FileJson[]> {
  const res = await fetch(`${base}/api/tasks/${taskId}`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { files: FileJson[] }).files;
}

test('an attachment and an outbox file download byte-identical from the dashboard; GC takes them with the conversation', { timeout: 300_000 }, async () => {
  const repo = await env.repo('files', repoYaml());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { cfg, daemon } = env.daemonWith([repo], 1, { dashboard: { enabled: true, host: '127.0.0.1', port }, execution: { max_concurrent: 1, shutdown_timeout: 5, conversation_max_age_days: 1 } });
  let running = daemon;
  try {
    const attachment = randomBytes(70_000);
    const m1 = await env.send('files', 'Keep my files', '[[bash:head -c 4096 /inbox/data.bin > /outbox/"half \\"quoted\\".bin" && echo written]]', {
      attachments: [{ filename: 'data.bin', content: attachment }],
    });
    const reply = await env.finalReplyTo(m1, 120_000);
    const task = taskFor(cfg, m1)!;
    assert.equal(task.status, 'completed');
    const sent = reply.attachments.find((a) => a.filename === 'half "quoted".bin');
    assert.ok(sent, `the outbox file is attached (${reply.attachments.map((a) => a.filename).join(', ')})`);

    const files = await filesOf(base, task.id);
    assert.deepEqual(files.map((f) => [f.direction, f.name, f.size]), [['in', 'data.bin', attachment.length], ['out', 'half "quoted".bin', 4096]]);
    const inbound = await fetch(`${base}${files[0]!.downloadUrl}`);
    assert.equal(inbound.status, 200);
    assert.match(inbound.headers.get('content-disposition')!, /^attachment; filename="data\.bin"/);
    assert.deepEqual(Buffer.from(await inbound.arrayBuffer()), attachment, 'the attachment downloads byte-identical');
    const outbound = await fetch(`${base}${files[1]!.downloadUrl}`);
    assert.equal(outbound.status, 200);
    assert.deepEqual(Buffer.from(await outbound.arrayBuffer()), sent.content, 'the outbox file downloads as it was sent');
    assert.deepEqual(sent.content, attachment.subarray(0, 4096));

    // Two days later, by the database's clock: the sweep at the next start archives the conversation.
    assert.equal(await running.stop('SIGTERM'), 0);
    const db = openDatabase(cfg.dbPath);
    try {
      const old = Date.now() - 2 * 86_400_000;
      db.prepare(`UPDATE tasks SET created_at = ?, started_at = ?, finished_at = ? WHERE conversation_id = ?`).run(old, old, old, task.conversation_id);
      db.prepare(`UPDATE conversations SET last_activity_at = ?, created_at = ? WHERE id = ?`).run(old, old, task.conversation_id);
    } finally {
      db.close();
    }
    running = env.restart(cfg);
    await waitUntil(
      () => readDb(cfg, (d) => (d.prepare(`SELECT archived_at FROM conversations WHERE id = ?`).get(task.conversation_id) as { archived_at: number | null } | undefined)?.archived_at) ?? undefined,
      60_000,
      'the conversation to be archived',
    );
    const convDir = path.join(cfg.dir, 'storage', 'files', 'conversations', task.conversation_id!);
    await waitUntil(() => !fs.existsSync(convDir) || undefined, 30_000, 'the conversation directory to be deleted');
    await waitUntil(() => fetch(`${base}/health`).then((r) => r.ok || undefined, () => undefined), 30_000, 'the dashboard to answer');
    for (const f of files) {
      const res = await fetch(`${base}${f.downloadUrl}`, { headers: { accept: 'text/html' } });
      assert.equal(res.status, 404);
      assert.match(await res.text(), /not kept: deleted with the conversation/);
    }
    assert.deepEqual((await filesOf(base, task.id)).map((f) => [f.name, f.downloadUrl, f.note]), [
      ['data.bin', null, 'deleted with the conversation'],
      ['half "quoted".bin', null, 'deleted with the conversation'],
    ]);
    assert.equal(await running.stop('SIGTERM'), 0);
  } finally {
    await running.stop('SIGKILL');
  }
});
