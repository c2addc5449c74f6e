/**
 * Issue 6 end to end: accepted work survives crashes and outages of the mail server. The real daemon
 * with Dovecot, the SMTP capture server (which can hold a message in flight or refuse mail), podman
 * and the real Claude Code CLI against the mock API.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ALICE, isAck, readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import { waitUntil, type TestConfig } from '../harness/daemon-process.ts';
import type { CapturedMessage } from '../harness/smtp-capture.ts';
import { startTcpProxy } from '../harness/tcp-proxy.ts';
import { freePort } from '../harness/ports.ts';
import { immutableSupported, setImmutable } from '../harness/immutable.ts';
import fs from 'node:fs';
import path from 'node:path';

let env: E2eEnv;

before(async () => {
  env = await startE2eEnv({ repoIds: ['alpha', 'beta'] });
});

after(async () => {
  await env?.stop();
});

const isFinalReply = (raw: string) => /^X-Airut-Kind: reply\r?$/m.test(raw);

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface MailRow {
  id: number;
  status: string;
  sending_since: number | null;
  message_id: string;
}

function mailOfTask(cfg: TestConfig, taskId: number, kind: string): MailRow | undefined {
  return readDb(cfg, (db) =>
    db.prepare(`SELECT id, status, sending_since, message_id FROM outgoing_mail WHERE task_id = ? AND kind = ?`).get(taskId, kind) as
      | MailRow
      | undefined,
  );
}

test('SIGKILL while the reply is in flight (server has not confirmed): after restart exactly one final reply, and the task is not run again', async () => {
  const alpha = await env.repo('alpha', repoYaml());
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  const hold = env.smtp.holdNext(isFinalReply, 'unconfirmed');
  let taskId = 0;
  let requestsBefore = 0;
  try {
    const m = await env.send('alpha', 'reply in flight', '[[bash:echo answer-in-flight]]');
    await hold.held; // the daemon has sent the whole message and waits for "250 OK"
    taskId = taskFor(cfg, m)!.id;
    assert.equal(taskFor(cfg, m)!.status, 'completed', 'the task was finished with its reply queued, in one transaction');
    assert.notEqual(mailOfTask(cfg, taskId, 'reply')?.sending_since ?? null, null, 'the send is marked in flight');
    requestsBefore = env.mock.messageRequests().length;
    await daemon.stop('SIGKILL');
    await hold.clientGone;
    assert.deepEqual(await hold.release(), { delivered: false }, 'a server that never said 250 drops the message');
    assert.equal(env.finalRepliesTo(m).length, 0);

    const again = env.restart(cfg);
    try {
      const reply = await env.finalReplyTo(m, 30_000);
      assert.match(reply.text ?? '', /answer-in-flight/);
      await waitUntil(() => mailOfTask(cfg, taskId, 'reply')?.status === 'sent', 10_000, 'the reply to be recorded as sent');
      await pause(1500); // a duplicate would show up by now
      assert.equal(env.finalRepliesTo(m).length, 1, 'exactly one final reply');
      assert.equal(env.repliesTo(m).filter(isAck).length, 1, 'exactly one acknowledgement');
      assert.equal(env.mock.messageRequests().length, requestsBefore, 'the finished task was not run again');
      assert.equal(env.containersOf(cfg, taskId), '', 'no container left');
      assert.ok(
        again.logs.some((l) => l.level === 'warn' && l.messageId === reply.messageId && /may get it twice/.test(l.msg)),
        'the resend of a mail that was in flight is logged',
      );
      assert.equal(await again.stop('SIGTERM'), 0);
    } finally {
      await again.stop('SIGKILL');
    }
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('SIGKILL after the server kept the reply but before its "250 OK" arrived: the reply is sent again with the same Message-ID (the documented at-least-once window)', async () => {
  const alpha = await env.repo('alpha', repoYaml());
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  const hold = env.smtp.holdNext(isFinalReply, 'kept');
  try {
    const m = await env.send('alpha', 'reply kept, unconfirmed', 'answer me too');
    await hold.held;
    await daemon.stop('SIGKILL');
    await hold.release();
    const [first] = env.finalRepliesTo(m);
    assert.ok(first, 'the server has the reply');

    const again = env.restart(cfg);
    try {
      const copies = await waitUntil(() => {
        const c = env.finalRepliesTo(m);
        return c.length >= 2 ? c : undefined;
      }, 30_000, 'the reply to be sent again');
      await pause(1500);
      assert.equal(env.finalRepliesTo(m).length, 2, 'sent again once, not more');
      const [a, b] = copies as [CapturedMessage, CapturedMessage];
      assert.equal(a.messageId, b.messageId, 'the copy carries the same Message-ID, so mail clients fold it');
      assert.ok(a.raw.equals(b.raw), 'byte for byte the same message');
      assert.deepEqual(b.to, [ALICE]);
      assert.ok(again.logs.some((l) => l.level === 'warn' && l.messageId === a.messageId && /may get it twice/.test(l.msg)));
      assert.equal(await again.stop('SIGTERM'), 0);
    } finally {
      await again.stop('SIGKILL');
    }
  } finally {
    await daemon.stop('SIGKILL');
  }
});

interface OutboxRow {
  id: number;
  repo_id: string;
  conversation_id: string;
  kind: string;
  message_id: string;
  status: string;
  attempts: number;
}

function outbox(cfg: TestConfig): OutboxRow[] {
  return readDb(cfg, (db) => db.prepare(`SELECT id, repo_id, conversation_id, kind, message_id, status, attempts FROM outgoing_mail ORDER BY id`).all() as OutboxRow[]) ?? [];
}

test('SMTP refuses for a while (451, then connections refused) across a restart, then accepts: every reply arrives once, in order per conversation', async () => {
  // alpha reaches the SMTP server through a proxy that can refuse connections; beta directly.
  const proxy = await startTcpProxy(env.smtp.port);
  const alpha = await env.repo('alpha', repoYaml(), { smtpPort: proxy.port });
  const beta = await env.repo('beta', repoYaml());
  const { cfg, daemon } = env.daemonWith([alpha, beta], 2);
  // The capture server is shared by the file's tests; earlier tests' mail must not count here.
  env.smtp.clear();
  env.smtp.setRefusing(true);
  let again: ReturnType<E2eEnv['restart']> | null = null;
  try {
    // Two conversations, two tasks each; the second of each is sent once the first has completed
    // (while it ran, it would be taken live into its session: one task, one reply).
    const firsts = await Promise.all(
      (['alpha', 'beta'] as const).map(async (repoId) => {
        const m1 = await env.send(repoId, `outage ${repoId}`, `[[bash:echo first-${repoId}]]`);
        const conv = (await waitUntil(() => (taskFor(cfg, m1)?.status === 'completed' ? taskFor(cfg, m1)?.conversation_id : undefined), 60_000, `${repoId}'s first task`))!;
        const m2 = await env.send(repoId, `Re: [ID:${conv}] outage ${repoId}`, `[[bash:echo second-${repoId}]]`);
        return { repoId, conv, m1, m2 };
      }),
    );
    const userMails = firsts.flatMap((f) => [f.m1, f.m2]);
    // The capture server is shared by the tests of this file: count only the answers to these mails.
    const ours = () => env.smtp.messages.filter((m) => m.inReplyTo !== undefined && userMails.includes(m.inReplyTo));
    await waitUntil(() => userMails.every((m) => taskFor(cfg, m)?.status === 'completed'), 120_000, 'all four tasks to complete');
    for (const f of firsts) assert.equal(taskFor(cfg, f.m2)!.conversation_id, f.conv, 'the follow-up joined its conversation');
    await waitUntil(() => outbox(cfg).filter((r) => r.attempts > 0).length >= 2, 30_000, 'failed attempts of the first mail of each conversation');
    assert.equal(ours().length, 0, 'nothing got through');
    const queued = outbox(cfg);
    assert.equal(queued.length, 6, 'an acknowledgement and two replies per conversation');
    assert.ok(queued.every((r) => r.status === 'pending'));

    assert.equal(await daemon.stop('SIGTERM'), 0);
    assert.deepEqual(outbox(cfg).map((r) => r.status), queued.map(() => 'pending'), 'kept across the shutdown');

    // Still down after the restart, now at the connection level for alpha.
    proxy.setDown(true);
    const attemptsBefore = new Map(outbox(cfg).map((r) => [r.id, r.attempts]));
    again = env.restart(cfg);
    await waitUntil(
      () => outbox(cfg).filter((r) => r.attempts > (attemptsBefore.get(r.id) ?? 0)).length >= 2,
      30_000,
      'a failed attempt per conversation after the restart',
    );
    assert.equal(ours().length, 0);

    env.smtp.setRefusing(false);
    proxy.setDown(false);
    await waitUntil(() => ours().length >= 6, 120_000, 'the six mails to arrive');
    await waitUntil(() => outbox(cfg).every((r) => r.status === 'sent'), 10_000, 'all six recorded as sent');
    await pause(1500);
    assert.equal(ours().length, 6, 'each exactly once');
    assert.deepEqual(
      new Set(ours().map((m) => m.messageId)),
      new Set(queued.map((r) => r.message_id)),
      'the stored mails, no others',
    );
    for (const f of firsts) {
      const got = ours().filter((m) => m.header('x-airut-conversation') === f.conv);
      assert.deepEqual(
        got.map((m) => [m.header('x-airut-kind'), m.inReplyTo]),
        [
          ['ack', f.m1],
          ['reply', f.m1],
          ['reply', f.m2],
        ],
        `conversation ${f.conv} (${f.repoId}) in order`,
      );
      assert.match(got[1]!.text ?? '', new RegExp(`first-${f.repoId}`));
      assert.match(got[2]!.text ?? '', new RegExp(`second-${f.repoId}`));
    }
    assert.equal(await again.stop('SIGTERM'), 0);
  } finally {
    env.smtp.setRefusing(false);
    await again?.stop('SIGKILL');
    await daemon.stop('SIGKILL');
    await proxy.close();
  }
});

interface HealthBody {
  status: string;
  problems?: Array<{ component: string; message: string }>;
}

async function health(port: number): Promise<{ code: number; body: HealthBody }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { code: res.status, body: (await res.json()) as HealthBody };
}

const NO_CHATTR = !immutableSupported() && 'chattr +i is not available here (needs root on ext4/xfs/btrfs)';

test('an unwritable conversations directory: the task fails with a reply, the error is logged with its path, /health names it until it works again', { skip: NO_CHATTR }, async () => {
  const alpha = await env.repo('alpha', repoYaml());
  const port = await freePort();
  const { cfg, daemon } = env.daemonWith([alpha], 1, { dashboard: { enabled: true, host: '127.0.0.1', port } });
  const conversations = path.join(cfg.dir, 'storage', 'alpha', 'conversations');
  fs.mkdirSync(conversations, { recursive: true });
  try {
    await waitUntil(async () => (await health(port).catch(() => null))?.code === 200, 30_000, '/health to be ok');
    setImmutable(conversations, true);
    const m = await env.send('alpha', 'cannot store', '[[bash:echo never-runs]]');
    const reply = await env.finalReplyTo(m, 60_000);
    assert.equal(reply.header('x-airut-kind'), 'error');
    assert.match(reply.text ?? '', /went wrong inside the service/);
    assert.equal(taskFor(cfg, m)?.status, 'failed');

    const degraded = await waitUntil(async () => {
      const h = await health(port);
      return h.code === 503 && h.body.problems?.some((p) => p.component === 'storage:alpha') ? h : undefined;
    }, 20_000, '/health to report the storage problem');
    const problem = degraded.body.problems!.find((p) => p.component === 'storage:alpha')!;
    assert.match(problem.message, new RegExp(`EPERM at ${conversations}`));
    assert.ok(
      daemon.logs.some((l) => l.level === 'error' && typeof l.path === 'string' && l.path.startsWith(conversations) && l.code === 'EPERM'),
      'logged with the path',
    );

    setImmutable(conversations, false);
    const m2 = await env.send('alpha', 'can store again', '[[bash:echo stored-again]]');
    assert.match((await env.finalReplyTo(m2, 60_000)).text ?? '', /stored-again/);
    await waitUntil(async () => (await health(port)).code === 200, 30_000, '/health to be ok again');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    try {
      setImmutable(conversations, false);
    } catch {
      /* already writable */
    }
    await daemon.stop('SIGKILL');
  }
});

test('a database that refuses writes: the mail stays on the server, /health names the database file, and the mail is processed once writes work again', { skip: NO_CHATTR }, async () => {
  const alpha = await env.repo('alpha', repoYaml());
  const port = await freePort();
  const { cfg, daemon } = env.daemonWith([alpha], 1, { dashboard: { enabled: true, host: '127.0.0.1', port } });
  const wal = `${cfg.dbPath}-wal`;
  try {
    await waitUntil(async () => (await health(port).catch(() => null))?.code === 200, 30_000, '/health to be ok');
    setImmutable(wal, true);
    const m = await env.send('alpha', 'while the database is broken', '[[bash:echo processed-later]]');
    const degraded = await waitUntil(async () => {
      const h = await health(port);
      return h.code === 503 && h.body.problems?.some((p) => p.component === 'database') ? h : undefined;
    }, 30_000, '/health to report the database problem');
    const problem = degraded.body.problems!.find((p) => p.component === 'database')!;
    assert.match(problem.message, new RegExp(`SQLITE_\\w+ at ${cfg.dbPath}`));
    assert.ok(daemon.logs.some((l) => l.level === 'error' && l.path === cfg.dbPath && /^SQLITE_/.test(String(l.code))), 'logged with the path');
    assert.equal(taskFor(cfg, m), undefined, 'not recorded');
    assert.equal(await env.dovecot.countInbox('alpha-bot'), 1, 'so it is still on the server');
    assert.equal(daemon.child.exitCode, null, 'the daemon keeps running');

    setImmutable(wal, false);
    assert.match((await env.finalReplyTo(m, 90_000)).text ?? '', /processed-later/);
    await waitUntil(async () => (await health(port)).code === 200, 30_000, '/health to be ok again');
    assert.equal(env.finalRepliesTo(m).length, 1);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    try {
      setImmutable(wal, false);
    } catch {
      /* already writable */
    }
    await daemon.stop('SIGKILL');
  }
});
