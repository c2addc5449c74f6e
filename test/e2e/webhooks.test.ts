/**
 * Issue 22, the completion webhook, end to end: the real daemon, Dovecot, SMTP capture, podman and
 * the Claude Code CLI (scripted through the mock Anthropic API). A mail task completes; the
 * repository's webhook receiver, a real local HTTP server, fails the first request and accepts the
 * retry. Both requests carry the same delivery id and a signature that verifies with the secret;
 * the task's API shows the delivery; a refused mail is never reported.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { freePort } from '../harness/ports.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import { startReceiver, type Receiver } from '../harness/webhook-receiver.ts';
import { listDeliveriesForTask } from '../../src/store/webhook-deliveries.ts';
import type { Db } from '../../src/store/database.ts';

const SECRET = 'e2e-webhook-secret-5d1f0c9a7b';
const TOKEN = 'dashboard-test-token-0123456789abcdef';

let env: E2eEnv;
let receiver: Receiver;

before(async () => {
  [env, receiver] = await Promise.all([startE2eEnv({ repoIds: ['hooked'] }), startReceiver()]);
});

after(async () => {
  await Promise.all([env?.stop(), receiver?.close()]);
});

function verifies(headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${String(headers['x-airut-timestamp'])}.${body}`).digest('hex')}`);
  const given = Buffer.from(String(headers['x-airut-signature'] ?? ''));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

test('a finished mail task is reported by a signed webhook, retried after the receiver failed once', { timeout: 300_000 }, async () => {
  receiver.script([500, 200]);
  const repo = await env.repo('hooked', repoYaml(), { extra: { webhook: { url: receiver.url, secret: SECRET } } });
  const port = await freePort();
  const { cfg, daemon } = env.daemonWith([repo], 1, { dashboard: { enabled: true, host: '127.0.0.1', port, auth_token: TOKEN, base_url: 'https://airut.example' } });
  try {
    // Refused (not an authorized sender): recorded, never reported.
    const spoof = await env.send('hooked', 'let me in', 'hello', { from: 'mallory@evil.test' });
    const m = await env.send('hooked', 'Say hi', 'Just say hi');
    await env.finalReplyTo(m, 120_000);
    const task = taskFor(cfg, m)!;
    assert.equal(task.status, 'completed');

    await receiver.received(2);
    const [first, second] = receiver.requests;
    assert.ok(first && second);
    for (const r of [first, second]) {
      assert.equal(r.method, 'POST');
      assert.equal(r.headers['x-airut-event'], 'task.finished');
      assert.ok(verifies(r.headers, r.body), 'the signature verifies with the secret');
      assert.ok(!r.body.includes(SECRET));
    }
    assert.equal(first.headers['x-airut-delivery'], second.headers['x-airut-delivery'], 'the retry is the same delivery');
    const body = JSON.parse(second.body) as { event: string; repo: string; task: Record<string, unknown> };
    assert.equal(body.event, 'task.finished');
    assert.equal(body.repo, 'hooked');
    assert.deepEqual(
      { id: body.task.id, status: body.task.status, conversationId: body.task.conversationId, sender: body.task.sender, subject: body.task.subject, url: body.task.url },
      { id: task.id, status: 'completed', conversationId: task.conversation_id, sender: 'alice@example.com', subject: 'Say hi', url: `https://airut.example/tasks/${task.id}` },
    );
    assert.equal(typeof body.task.costUsd, 'number');

    // The API shows the delivery once its answer is recorded.
    const api = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/tasks/${task.id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return ((await res.json()) as { webhooks: Array<{ id: string; status: string; attempts: number; lastError: string | null; deliveredAt: number | null }> }).webhooks;
    };
    const hooks = await waitUntil(async () => {
      const w = await api();
      return w[0]?.status === 'delivered' ? w : undefined;
    }, 30_000, 'the delivery recorded as delivered');
    assert.equal(hooks.length, 1);
    assert.deepEqual({ ...hooks[0], deliveredAt: typeof hooks[0]?.deliveredAt }, { id: first.headers['x-airut-delivery'], status: 'delivered', attempts: 2, lastError: null, deliveredAt: 'number' });

    const spoofTask = await waitUntil(() => readDb(cfg, (db) => db.prepare(`SELECT id, status FROM tasks WHERE message_id = ?`).get(spoof) as { id: number; status: string } | undefined), 30_000, 'the refused mail recorded');
    assert.equal(spoofTask.status, 'rejected');
    assert.deepEqual(readDb(cfg, (db) => listDeliveriesForTask(db as unknown as Db, spoofTask.id)), []);
    assert.equal(receiver.requests.length, 2, 'nothing else was reported');
    assert.ok(!JSON.stringify(daemon.logs).includes(SECRET), 'the secret never reaches the log');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
