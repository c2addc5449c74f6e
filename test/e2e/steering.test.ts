/**
 * Issue 18 item 3 end to end (real daemon, Dovecot, SMTP capture, podman, the real Claude Code CLI
 * against the mock API): follow-ups that arrive while their conversation is busy are coalesced
 * into one next run with one reply; a reply to a conversation whose last run paused resumes it.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { latestPrompt } from '../harness/scripted-agent.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { runtimeCases } from '../harness/runtimes.ts';
import { TEST_DOCKERFILE } from '../harness/test-image.ts';
import { ALICE, isAck, readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import type { MessagesRequestBody } from '../harness/mock-anthropic.ts';

let env: E2eEnv;

function prompts(from: number): string[] {
  return env.mock
    .messageRequests()
    .slice(from)
    .map((r) => latestPrompt(r.body as MessagesRequestBody));
}

async function followUpReachesTheRunningSession(): Promise<void> {
  const gamma = await env.repo('gamma', repoYaml());
  const { cfg, daemon } = env.daemonWith([gamma], 2);
  try {
    const first = await env.send('gamma', 'slow task', '[[sleep:12000]] first question about herons');
    const ack = await env.smtp.waitFor((m) => m.inReplyTo === first && isAck(m), 60_000);
    const handler = await env.runningTaskWithContainer(cfg, first);
    const f = await env.send('gamma', `Re: ${ack.subject}`, 'second question about egrets', { inReplyTo: ack.messageId!, references: [first, ack.messageId!] });
    await waitUntil(() => taskFor(cfg, f)?.status === 'merged', 60_000, 'the follow-up was taken live');
    const reply = await env.finalReplyTo(first, 120_000);
    assert.equal(taskFor(cfg, first)!.status, 'completed');
    const merge = readDb(cfg, (db) => db.prepare('SELECT merged_into, merge_kind FROM tasks WHERE message_id = ?').get(f)) as Record<string, unknown>;
    assert.deepEqual(merge, { merged_into: handler, merge_kind: 'live' });
    // The same session: the request that answers the follow-up carries the first question and its answer.
    const req = env.mock
      .messageRequests()
      .map((r) => r.body as MessagesRequestBody)
      .find((b) => latestPrompt(b).includes('second question about egrets'));
    assert.ok(req, 'the follow-up reached the API');
    const texts = (req.messages ?? []).filter((m) => m.role === 'user').map((m) => JSON.stringify(m.content));
    assert.ok(texts.some((t) => t.includes('first question about herons')), 'the first prompt is in the same request history');
    assert.match(reply.text ?? '', new RegExp(`Follow-up from ${ALICE}`), 'one reply answers both');
    assert.match(reply.text ?? '', /Follow-up from [^\n]*\n\n\*\*Done\.\*\* First line: A follow-up message about this task arrived/, 'the follow-up answer follows the line naming it');
    assert.equal(env.finalRepliesTo(f).length, 0, 'no reply of its own');
    assert.equal(env.finalRepliesTo(first).length, 1);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function threeFollowUpsCoalesce(): Promise<void> {
  // A slow RUN step: while the image builds the task cannot take follow-ups live.
  const alpha = await env.repo('alpha', repoYaml(), { extraFiles: { '.airut/container/Dockerfile': `${TEST_DOCKERFILE}ENV NONCE=${Date.now()}\nRUN sleep 15\n` } });
  const { cfg, daemon } = env.daemonWith([alpha], 2);
  try {
    const first = await env.send('alpha', 'slow image', 'first task');
    const ack = await env.smtp.waitFor((m) => m.inReplyTo === first && isAck(m), 60_000);
    const thread = { inReplyTo: ack.messageId!, references: [first, ack.messageId!] };
    const f1 = await env.send('alpha', `Re: ${ack.subject}`, 'follow-up number one', thread);
    const f2 = await env.send('alpha', `Re: ${ack.subject}`, 'follow-up number two', thread);
    const f3 = await env.send('alpha', `Re: ${ack.subject}`, 'follow-up number three', thread);
    // All three are in the store while the first task still runs, so they wait for it.
    await waitUntil(() => [f1, f2, f3].every((m) => taskFor(cfg, m)?.status === 'queued'), 60_000, 'the follow-ups queued');
    assert.equal(taskFor(cfg, first)!.status, 'running', 'the follow-ups arrived while the first task ran');
    assert.equal(readDb(cfg, (db) => (db.prepare('SELECT stage FROM task_stages WHERE task_id = ? ORDER BY id DESC LIMIT 1').get(taskFor(cfg, first)!.id) as { stage: string }).stage), 'image');
    const before = env.mock.messageRequests().length;
    await env.finalReplyTo(first);
    const reply = await env.finalReplyTo(f3, 120_000);
    const [t1, t2, t3] = [taskFor(cfg, f1)!, taskFor(cfg, f2)!, taskFor(cfg, f3)!];
    assert.equal(t1.status, 'completed');
    for (const t of [t2, t3]) {
      const merge = readDb(cfg, (db) => db.prepare('SELECT status, merged_into, merge_kind FROM tasks WHERE id = ?').get(t.id)) as Record<string, unknown>;
      assert.deepEqual(merge, { status: 'merged', merged_into: t1.id, merge_kind: 'coalesced' });
    }
    const prompt = prompts(before).find((p) => p.includes('follow-up number one'));
    assert.ok(prompt, 'the coalesced run reached the API');
    for (const text of ['one', 'two', 'three']) {
      assert.match(prompt, new RegExp(`\\[${ALICE} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\]\\nfollow-up number ${text}`));
    }
    assert.equal(reply.header('x-airut-conversation'), taskFor(cfg, first)!.conversation_id);
    assert.deepEqual([f1, f2, f3].map((m) => env.finalRepliesTo(m).length), [0, 0, 1], 'one reply, threaded to the newest mail');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
}

async function pausedTaskResumesOnReply(): Promise<void> {
  const beta = await env.repo('beta', repoYaml());
  const { cfg, daemon } = env.daemonWith([beta], 1);
  let again = daemon;
  try {
    const first = await env.send('beta', 'paused work', 'remember the word pelican');
    const firstReply = await env.finalReplyTo(first);
    assert.equal(await daemon.stop('SIGTERM'), 0);
    // What the retry code records when API failures outlast the retries: the run ends `paused`.
    const db = new Database(cfg.dbPath);
    try {
      db.prepare(`UPDATE tasks SET status = 'paused', error = 'overloaded' WHERE message_id = ?`).run(first);
    } finally {
      db.close();
    }
    again = env.restart(cfg);
    const before = env.mock.messageRequests().length;
    const r = await env.send('beta', `Re: ${firstReply.subject}`, 'please go on', { inReplyTo: firstReply.messageId!, references: [first, firstReply.messageId!] });
    const reply = await env.finalReplyTo(r);
    const [paused, mail] = [taskFor(cfg, first)!, taskFor(cfg, r)!];
    assert.equal(paused.status, 'completed', 'the paused task ran again and completed');
    assert.equal(mail.status, 'merged');
    const prompt = prompts(before).find((p) => p.includes('please go on'));
    assert.ok(prompt);
    assert.match(prompt, /previous run of this conversation was paused because the Claude API failed repeatedly/);
    assert.doesNotMatch(prompt, /remember the word pelican/, "the paused run's own mail is in its session already");
    assert.equal(reply.header('x-airut-conversation'), paused.conversation_id);
    assert.equal(env.finalRepliesTo(r).length, 1);
    assert.equal(await again.stop('SIGTERM'), 0);
  } finally {
    await again.stop('SIGKILL');
    await daemon.stop('SIGKILL');
  }
}

for (const rt of runtimeCases()) {
  describe(`with ${rt.command}`, { skip: rt.skip }, () => {
    before(async () => {
      env = await startE2eEnv({ repoIds: ['alpha', 'beta', 'gamma'], runtime: rt });
    });
    after(async () => {
      await env?.stop();
    });
    test('a follow-up sent while a slow task runs reaches the same session, and one reply answers both', followUpReachesTheRunningSession);
    test('three follow-ups sent while its image builds become one coalesced run with all three in its prompt and one reply', threeFollowUpsCoalesce);
    test('a reply to a conversation whose last run paused resumes that run; one reply', pausedTaskResumesOnReply);
  });
}
