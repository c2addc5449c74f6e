/**
 * Issue 3 end to end: the real daemon with real Dovecot, a real SMTP capture server, real podman
 * and the real Claude Code CLI talking to a mock Anthropic API (a scripted agent, see
 * test/harness/scripted-agent.ts). A mail goes in; a threaded reply comes out. Every scenario runs
 * once per container runtime (podman, and Docker where it runs: test/harness/runtimes.ts).
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../harness/ports.ts';
import { allMessageText } from '../harness/mock-anthropic.ts';
import { latestPrompt } from '../harness/scripted-agent.ts';
import { waitUntil, type TestConfig } from '../harness/daemon-process.ts';
import { TEST_DOCKERFILE } from '../harness/test-image.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { instanceId } from '../../src/instance-id.ts';
import { ALICE, isAck, readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv, type TaskRowView } from '../harness/e2e-env.ts';

const ALPHA_SECRET = 'alpha-secret-value-7f3a';
const BETA_SECRET = 'beta-secret-value-91c2';

let env: E2eEnv;

async function mailBecomesThreadedReply(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml(), { secrets: env.cliSecrets({ SECRET_TOKEN: ALPHA_SECRET }) });
  const { cfg, daemon } = env.daemonWith([alpha], 2);
  try {
    const m1 = await env.send('alpha', 'Summarise my notes', '[[bash:cat /inbox/notes.txt && echo generated-file > /outbox/result.txt]]', {
      attachments: [{ filename: 'notes.txt', content: 'notes-content-42\n', contentType: 'text/plain' }],
    });
    const reply = await env.finalReplyTo(m1);
    const conversationId = reply.header('x-airut-conversation')!;
    assert.match(conversationId, /^[0-9a-f]{8}$/);
    assert.equal(reply.subject, `Re: [ID:${conversationId}] Summarise my notes`);
    assert.match(reply.messageId ?? '', new RegExp(`^<airut\\.${conversationId}\\.\\d+\\.[0-9a-f]+@repos\\.test>$`));
    assert.deepEqual(reply.to, [ALICE]);
    assert.equal(reply.header('auto-submitted'), 'auto-replied');
    assert.ok(reply.references.includes(m1));
    assert.match(reply.text ?? '', /notes-content-42/, 'the agent saw the attachment in /inbox');
    assert.match(reply.html ?? '', /notes-content-42/);
    assert.match(reply.text ?? '', /turn/i, 'usage footer');
    const file = reply.attachments.find((a) => a.filename === 'result.txt');
    assert.ok(file, 'the outbox file is attached');
    assert.equal(file.content.toString(), 'generated-file\n');

    // One acknowledgement for the new conversation, in the same thread.
    const acks = env.repliesTo(m1).filter(isAck);
    assert.equal(acks.length, 1);
    assert.equal(acks[0]!.header('x-airut-conversation'), conversationId);

    const t1 = taskFor(cfg, m1)!;
    assert.equal(t1.status, 'completed');
    assert.ok(t1.session_id, 'session id recorded');
    assert.ok((t1.cost_usd ?? 0) > 0, 'cost recorded');
    assert.ok((t1.turns ?? 0) >= 1, 'turns recorded');
    const outbox = path.join(cfg.dir, 'storage', 'alpha', 'conversations', conversationId, 'outbox');
    assert.deepEqual(fs.readdirSync(outbox), [], 'outbox cleared after sending');
    for (const part of ['context.json', 'workspace', 'claude', 'gitconfig', 'inbox', 'outbox']) {
      assert.ok(fs.existsSync(path.join(cfg.dir, 'storage', 'alpha', 'conversations', conversationId, part)), part);
    }

    // The follow-up resumes the same Claude session: the API sees the earlier turns.
    const before = env.mock.messageRequests().length;
    const m2 = await env.send('alpha', `Re: ${reply.subject}`, 'And now a second question', {
      inReplyTo: reply.messageId!,
      references: [m1, reply.messageId!],
    });
    const reply2 = await env.finalReplyTo(m2);
    assert.equal(reply2.header('x-airut-conversation'), conversationId);
    assert.equal(reply2.subject, `Re: [ID:${conversationId}] Summarise my notes`);
    const followUpRequests = env.mock.messageRequests().slice(before).map((r) => r.body as Parameters<typeof allMessageText>[0]);
    const resumed = followUpRequests.find((b) => latestPrompt(b).includes('second question'));
    assert.ok(resumed, 'the follow-up reached the API');
    assert.match(allMessageText(resumed), /notes-content-42/, 'earlier turns were sent with the follow-up');
    assert.equal(env.repliesTo(m2).filter(isAck).length, 0, 'no second acknowledgement');
    assert.equal(taskFor(cfg, m2)?.conversation_id, conversationId);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function failuresAnswerTheSender(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml({ timeout: 10 }), { secrets: env.cliSecrets({ SECRET_TOKEN: ALPHA_SECRET }) });
  const beta = await env.repo('beta', repoYaml(), { secrets: env.cliSecrets({ SECRET_TOKEN: BETA_SECRET }) });
  const gamma = await env.repo('gamma', repoYaml({ extra: 'timeout_minutes: 5\n' }));
  const { cfg, daemon } = env.daemonWith([alpha, beta, gamma], 3);
  try {
    const stall = await env.send('alpha', 'never ends', '[[stall]]');
    const broken = await env.send('gamma', 'broken config', 'hello');
    const envA = await env.send('alpha', 'env alpha', '[[bash:echo token=$MY_TOKEN]]');
    const envB = await env.send('beta', 'env beta', '[[bash:env]]');
    const failing = await env.send('beta', 'api error', '[[error]]');

    const brokenReply = await env.finalReplyTo(broken);
    assert.match(brokenReply.text ?? '', /timeout_minutes/, 'the reply names the bad field');
    assert.equal(taskFor(cfg, broken)?.status, 'failed');

    const a = await env.finalReplyTo(envA);
    assert.match(a.text ?? '', new RegExp(`token=${ALPHA_SECRET}`));
    const b = await env.finalReplyTo(envB);
    assert.ok(!(b.text ?? '').includes(ALPHA_SECRET), "repo alpha's secret must not reach repo beta's container");
    assert.match(b.text ?? '', new RegExp(BETA_SECRET));

    const failed = await env.finalReplyTo(failing);
    assert.match(failed.text ?? '', /did not finish/);
    assert.equal(taskFor(cfg, failing)?.status, 'failed');

    const timedOut = await env.finalReplyTo(stall, 120_000);
    assert.match(timedOut.text ?? '', /time limit/);
    const t = taskFor(cfg, stall)!;
    assert.equal(t.status, 'timeout');
    assert.equal(env.containersOf(cfg, t.id), '', 'no container left behind');

    // Secrets never reach the daemon's log.
    const logText = JSON.stringify(daemon.logs);
    assert.ok(!logText.includes(ALPHA_SECRET) && !logText.includes(BETA_SECRET), 'a secret reached the log');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function hostileAttachmentNames(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml());
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  try {
    const long = `${'x'.repeat(300)}.txt`;
    const m = await env.send('alpha', 'names', '[[bash:ls -1 /inbox]]', {
      attachments: [
        { filename: '../../etc/passwd', content: 'p' },
        { filename: 'a/b.txt', content: 'ab' },
        { filename: '', content: 'empty' },
        { filename: long, content: 'long' },
      ],
    });
    const reply = await env.finalReplyTo(m);
    const t = taskFor(cfg, m)!;
    const inbox = path.join(cfg.dir, 'storage', 'alpha', 'conversations', t.conversation_id!, 'inbox');
    const names = fs.readdirSync(inbox);
    assert.equal(names.length, 4, `all four saved: ${names.join(', ')}`);
    for (const n of names) {
      assert.ok(!n.includes('/') && !n.includes('..') && n.length > 0 && Buffer.byteLength(n) <= 255, `unsafe name ${n}`);
      assert.ok(fs.lstatSync(path.join(inbox, n)).isFile());
    }
    assert.ok(!fs.existsSync(path.join(cfg.dir, 'storage', 'alpha', 'etc')), 'nothing escaped the inbox');
    assert.match(reply.text ?? '', /passwd/);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

function overlaps(a: TaskRowView, b: TaskRowView): boolean {
  return a.started_at! < b.finished_at! && b.started_at! < a.finished_at!;
}

async function oneAtATime(): Promise<void> {
  const one = await env.repo('one', repoYaml());
  const two = await env.repo('two', repoYaml());
  const { cfg, daemon } = env.daemonWith([one, two], 1);
  try {
    const a = await env.send('one', 'first', '[[sleep:1500]] first');
    const b = await env.send('two', 'second', '[[sleep:1500]] second');
    await env.finalReplyTo(a);
    await env.finalReplyTo(b);
    const ta = taskFor(cfg, a)!;
    const tb = taskFor(cfg, b)!;
    assert.equal(ta.status, 'completed');
    assert.equal(tb.status, 'completed');
    assert.ok(!overlaps(ta, tb), 'with max_concurrent 1 the two tasks must not overlap');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function twoConversationsTogether(): Promise<void> {
  const one = await env.repo('one', repoYaml());
  const two = await env.repo('two', repoYaml());
  const { cfg, daemon } = env.daemonWith([one, two], 2);
  try {
    const a = await env.send('one', 'long one', '[[sleep:6000]] long');
    const b = await env.send('two', 'long two', '[[sleep:6000]] long');
    // Reply to the acknowledgement while the first task still runs.
    const ack = await env.smtp.waitFor((m) => m.inReplyTo === a && isAck(m), 60_000);
    const a2 = await env.send('one', `Re: ${ack.subject}`, 'follow-up', { inReplyTo: ack.messageId!, references: [a, ack.messageId!] });
    await env.finalReplyTo(a);
    await env.finalReplyTo(b);
    // Taken live into the running session (merged), or, when it arrived before the agent ran, run after it.
    const ta2 = await waitUntil(() => {
      const t = taskFor(cfg, a2);
      return t?.status === 'merged' || t?.status === 'completed' ? t : undefined;
    }, 90_000, 'the follow-up handled');
    const [ta, tb] = [taskFor(cfg, a)!, taskFor(cfg, b)!];
    assert.ok(overlaps(ta, tb), 'two conversations ran at the same time');
    assert.equal(ta2.conversation_id, ta.conversation_id);
    if (ta2.status === 'merged') {
      const into = readDb(cfg, (db) => (db.prepare('SELECT merged_into FROM tasks WHERE id = ?').get(ta2.id) as { merged_into: number }).merged_into);
      assert.equal(into, ta.id, 'delivered into the running task of its conversation');
    } else {
      assert.ok(ta2.started_at! >= ta.finished_at!, 'the follow-up waited for its conversation');
    }
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function sigkillMidTask(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml());
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  const m = await env.send('alpha', 'survive a crash', '[[sleep:4000]] crash test');
  let taskId = 0;
  try {
    taskId = await env.runningTaskWithContainer(cfg, m);
    await daemon.stop('SIGKILL');
  } finally {
    await daemon.stop('SIGKILL');
  }
  assert.notEqual(env.containersOf(cfg, taskId), '', 'the container outlived the killed daemon');

  const again = env.restart(cfg);
  try {
    const reply = await env.finalReplyTo(m);
    assert.match(reply.text ?? '', /resumed after a restart/);
    const t = taskFor(cfg, m)!;
    assert.equal(t.status, 'completed');
    assert.equal(env.containersOf(cfg, taskId), '', 'no container left');
    // Give a duplicate a chance to show up, then count.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(env.repliesTo(m).filter((r) => !isAck(r)).length, 1, 'exactly one final reply');
    assert.equal(await again.stop('SIGTERM'), 0);
  } finally {
    await again.stop('SIGKILL');
  }
}

async function sigtermPastShutdownTimeout(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml());
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  const m = await env.send('alpha', 'long job', '[[sleep:9000]] long job');
  let taskId = 0;
  try {
    taskId = await env.runningTaskWithContainer(cfg, m);
    assert.equal(await daemon.stop('SIGTERM', 60_000), 0, 'graceful exit code');
  } finally {
    await daemon.stop('SIGKILL');
  }
  assert.equal(env.containersOf(cfg, taskId), '', 'the container was stopped and removed');
  assert.equal(taskFor(cfg, m)?.status, 'interrupted');
  assert.equal(env.repliesTo(m).filter((r) => !isAck(r)).length, 0, 'no final reply yet');

  const again = env.restart(cfg);
  try {
    const reply = await env.finalReplyTo(m);
    assert.match(reply.text ?? '', /resumed after a restart/);
    assert.equal(taskFor(cfg, m)?.status, 'completed');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(env.repliesTo(m).filter((r) => !isAck(r)).length, 1, 'exactly one final reply');
    assert.equal(env.repliesTo(m).filter(isAck).length, 1, 'exactly one acknowledgement');
    assert.equal(await again.stop('SIGTERM'), 0);
  } finally {
    await again.stop('SIGKILL');
  }
}

async function stopFromDashboard(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml());
  const port = await freePort();
  const token = 'dashboard-test-token-0123456789abcdef';
  const { cfg, daemon } = env.daemonWith([alpha], 1, { dashboard: { enabled: true, host: '127.0.0.1', port, auth_token: token } });
  const api = (p: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}${p}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
  try {
    const running = await env.send('alpha', 'runaway', '[[sleep:60000]] runaway');
    const queued = await env.send('alpha', 'waiting', 'second in line');
    const taskId = await env.runningTaskWithContainer(cfg, running);
    const queuedId = (await waitUntil(() => taskFor(cfg, queued), 30_000, 'the second task')).id;

    assert.equal((await fetch(`http://127.0.0.1:${port}/api/tasks/${taskId}/stop`, { method: 'POST' })).status, 401, 'no token, no stop');
    const stopQueued = await api(`/api/tasks/${queuedId}/stop`, { method: 'POST' });
    assert.equal(stopQueued.status, 200, await stopQueued.clone().text());
    const stop = await api(`/api/tasks/${taskId}/stop`, { method: 'POST' });
    assert.equal(stop.status, 200, await stop.clone().text());

    const notice = await env.finalReplyTo(running);
    assert.match(notice.text ?? '', /stopped/i);
    await waitUntil(() => taskFor(cfg, running)?.status === 'cancelled', 30_000, 'the task to be cancelled');
    assert.equal(env.containersOf(cfg, taskId), '', 'the container is gone');
    const removed = await env.finalReplyTo(queued);
    assert.match(removed.text ?? '', /removed from the queue/);
    assert.equal(taskFor(cfg, queued)?.status, 'cancelled');

    const detail = (await (await api(`/api/tasks/${taskId}`)).json()) as { task?: { status?: string }; status?: string };
    assert.equal(detail.task?.status ?? detail.status, 'cancelled');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function imageBuildTimeout(): Promise<void> {
  const alpha = await env.repo('alpha', repoYaml(), {
    extraFiles: { '.airut/container/Dockerfile': `${TEST_DOCKERFILE}ENV NONCE=${Date.now()}\nRUN sleep 3600\n` },
  });
  const { cfg, daemon } = env.daemonWith([alpha], 1, { execution: { max_concurrent: 1, shutdown_timeout: 5, image_build_timeout: 5 } });
  try {
    const m = await env.send('alpha', 'slow image', 'anything');
    const reply = await env.finalReplyTo(m, 90_000);
    assert.equal(reply.header('x-airut-kind'), 'error');
    assert.match(reply.text ?? '', /took longer than 5 seconds and was stopped/);
    assert.match(reply.text ?? '', /image_build_timeout/);
    assert.match(reply.text ?? '', /RUN sleep 3600/, 'the end of the build log');
    const t = taskFor(cfg, m)!;
    assert.equal(t.status, 'failed');
    assert.match(t.error ?? '', /IMAGE_BUILD_TIMEOUT|did not finish within 5 s/);
    assert.equal(env.containersOf(cfg, t.id), '', 'no task container was started');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
    // The stopped build's layers (the unique ENV step) stay cached, untagged; they are this test's.
    const runtime = env.runtime.runtime();
    for (const img of await runtime.listImages({ label: `airut.instance=${instanceId(cfg.dbPath)}` })) {
      if (img.tag === '<none>:<none>') await runtime.removeImage(img.id).catch(() => undefined);
    }
  }
}

for (const rt of runtimeCases()) {
  describe(`with ${rt.command}`, { skip: rt.skip }, () => {
    before(async () => {
      env = await startE2eEnv({ repoIds: ['alpha', 'beta', 'gamma', 'one', 'two'], runtime: rt });
    });
    after(async () => {
      await env?.stop();
    });
    test('a mail becomes a threaded reply with the agent answer and its outbox file; a reply resumes the session', mailBecomesThreadedReply);
    test('failures answer the sender: timeout (no container left), agent error, broken repo config; secrets stay in their repo', failuresAnswerTheSender);
    test('hostile attachment names land safely inside inbox/', hostileAttachmentNames);
    test('max_concurrent 1: two repos never run at once', oneAtATime);
    test('max_concurrent 2: two conversations run together while a follow-up of a busy one joins its session or waits', twoConversationsTogether);
    test('SIGKILL mid-task: on restart the orphan container is removed and the task runs again once, with one final reply', sigkillMidTask);
    test('SIGTERM while a task runs past shutdown_timeout: container gone, task interrupted, rerun after restart with one final reply', sigtermPastShutdownTimeout);
    test('Stop from the dashboard API: the running container is stopped, the task is cancelled and the sender told; a queued task leaves the queue', stopFromDashboard);
    test('an image build that runs past execution.image_build_timeout is stopped and the sender gets a reply that says so', imageBuildTimeout);
  });
}
