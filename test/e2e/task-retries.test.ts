/**
 * Issue 18, items 2 and 5, end to end: the real daemon, Dovecot, SMTP capture, podman and the real
 * Claude Code CLI against the mock API. A 529 from the API ends the CLI's run at once (the sandbox
 * sets CLAUDE_CODE_MAX_RETRIES=0); the daemon waits, resumes the same session and the task
 * completes, or, when the retries run out, pauses with a reply. The repository's effort reaches
 * the API (the CLI sends it as `output_config.effort`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { allMessageText, isAgentRequest, type MessagesRequestBody, type MockScript } from '../harness/mock-anthropic.ts';
import { latestPrompt, scriptedAgent } from '../harness/scripted-agent.ts';
import { readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';
import type { TestConfig } from '../harness/daemon-process.ts';

let env: E2eEnv;

/** Answers 529 to the first `failures` agent requests of prompts holding `marker` (or all, with Infinity). */
function overloadedFirst(marker: string, failures: number): MockScript {
  let seen = 0;
  return (body, index) => {
    if (isAgentRequest(body) && latestPrompt(body).includes(marker) && seen++ < failures) {
      return { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' };
    }
    return scriptedAgent(body, index);
  };
}

function retryEvents(cfg: TestConfig, taskId: number): Array<{ attempt: number; cause: string; detail: string; delaySeconds: number }> {
  return readDb(cfg, (db) =>
    (db.prepare(`SELECT data FROM task_events WHERE task_id = ? AND kind = 'api_retry' ORDER BY id`).all(taskId) as { data: string }[]).map((r) => JSON.parse(r.data)),
  )!;
}

function columns(cfg: TestConfig, taskId: number): { api_retries: number; effort: string | null } {
  return readDb(cfg, (db) => db.prepare(`SELECT api_retries, effort FROM tasks WHERE id = ?`).get(taskId) as { api_retries: number; effort: string | null })!;
}

before(async () => {
  env = await startE2eEnv({ repoIds: ['alpha'] });
});

after(async () => {
  await env?.stop();
});

test('a 529 twice then success: two retries resume the same session, the task completes with one reply; the effort reaches the API', async () => {
  const alpha = await env.repo('alpha', repoYaml(), {
    extra: { effort: 'high', retries: { max_retries: 3, initial_delay_seconds: 1, max_delay_seconds: 1, max_total_wait_seconds: 60 } },
  });
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  try {
    env.mock.setScript(overloadedFirst('[[flaky-twice]]', 2));
    const before = env.mock.messageRequests().length;
    const m = await env.send('alpha', 'Flaky API', '[[flaky-twice]] please answer');
    const reply = await env.finalReplyTo(m, 180_000);
    assert.match(reply.text ?? '', /Done\./);
    const t = taskFor(cfg, m)!;
    assert.equal(t.status, 'completed');
    assert.deepEqual(
      retryEvents(cfg, t.id).map((e) => [e.attempt, e.cause, e.detail, e.delaySeconds]),
      [
        [1, 'overloaded', 'API 529 overloaded_error', 1],
        [2, 'overloaded', 'API 529 overloaded_error', 1],
      ],
    );
    assert.deepEqual(columns(cfg, t.id), { api_retries: 2, effort: 'high' });
    assert.equal(env.finalRepliesTo(m).length, 1, 'one reply');

    const agent = env.mock.messageRequests().slice(before).map((r) => r.body as MessagesRequestBody).filter((b) => b && isAgentRequest(b));
    const last = agent[agent.length - 1]!;
    // The session was resumed, not started again: the original prompt and the retry prompt are in one history.
    assert.match(allMessageText(last), /\[\[flaky-twice\]\][\s\S]*temporary failure of the Anthropic API[\s\S]*temporary failure of the Anthropic API/);
    assert.ok(agent.every((b) => (b['output_config'] as { effort?: string } | undefined)?.effort === 'high'), 'every request carries effort high');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('a 529 until the retries run out: the task is paused and its reply says so; a reply in the thread resumes and completes it', async () => {
  const alpha = await env.repo('alpha', repoYaml(), {
    extra: { retries: { max_retries: 2, initial_delay_seconds: 1, max_delay_seconds: 1, max_total_wait_seconds: 60 } },
  });
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  try {
    env.mock.setScript(overloadedFirst('[[always-overloaded]]', Infinity));
    const m = await env.send('alpha', 'Overloaded API', '[[always-overloaded]] please answer');
    const reply = await env.finalReplyTo(m, 180_000);
    assert.match(reply.text ?? '', /paused/);
    assert.match(reply.text ?? '', /API 529 overloaded_error/);
    assert.match(reply.text ?? '', /after 2 automatic retries over 2 seconds/);
    assert.match(reply.text ?? '', /reply to this mail/);
    const t = taskFor(cfg, m)!;
    assert.equal(t.status, 'paused');
    assert.ok(t.session_id, 'the session is kept for the resume');
    assert.equal(columns(cfg, t.id).api_retries, 2);
    assert.equal(columns(cfg, t.id).effort, null, 'no effort configured: none recorded, no --effort');
    assert.equal(retryEvents(cfg, t.id).length, 2);

    // The API is back; any reply in the thread resumes the paused task in its session.
    env.mock.setScript(scriptedAgent);
    const before = env.mock.messageRequests().length;
    const r = await env.send('alpha', `Re: ${reply.subject}`, 'please go on', { inReplyTo: reply.messageId!, references: [m, reply.messageId!] });
    const done = await env.finalReplyTo(r, 180_000);
    assert.match(done.text ?? '', /Done\./);
    const [resumed, mail] = [taskFor(cfg, m)!, taskFor(cfg, r)!];
    assert.equal(resumed.status, 'completed', 'the paused task itself ran again and completed');
    assert.equal(resumed.session_id, t.session_id, 'in the same session');
    assert.equal(mail.status, 'merged', 'the reply was coalesced into the paused task');
    assert.equal(done.header('x-airut-conversation'), resumed.conversation_id);
    const agent = env.mock.messageRequests().slice(before).map((q) => q.body as MessagesRequestBody).filter((b) => b && isAgentRequest(b));
    assert.match(allMessageText(agent[agent.length - 1]!), /\[\[always-overloaded\]\][\s\S]*please go on/, 'one history: the paused run and the reply');
    assert.equal(env.finalRepliesTo(r).length, 1, 'one reply');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
