/**
 * Issue 18, spending limits end to end: the real daemon, Dovecot, the SMTP capture, podman and the
 * real Claude Code CLI against the mock API, whose usage makes every request cost $0.0004. A task
 * whose agent keeps calling tools crosses its $0.0009 budget mid-task (after its 3rd request,
 * $0.0012) and ends as budget_exceeded with a reply saying so; a "continue" reply resumes the same
 * session with a fresh budget and completes in two requests ($0.0008 of its own; the CLI reports
 * the session's total, $0.0020, which the daemon turns back into the task's own cost). A tiny sender cap refuses the next mails: one reply with the figures, and the mock API
 * never sees them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { allMessageText, blocksOf, isAgentRequest, type MockScript } from '../harness/mock-anthropic.ts';
import { latestPrompt, scriptedAgent } from '../harness/scripted-agent.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { ALICE, readDb, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';

let env: E2eEnv;

/**
 * The prompt of the run being answered: the daemon's newest prompt (it always mentions /outbox).
 * Unlike latestPrompt, text in a message that also carries tool results counts: on --resume after
 * a run stopped mid-tool-call, the CLI sends the new prompt in the same message as the last result.
 */
function runPrompt(body: Parameters<MockScript>[0]): string {
  const texts = (body.messages ?? [])
    .filter((m) => m.role === 'user')
    .flatMap((m) => blocksOf(m))
    .map((b) => (b.type === 'text' && typeof b['text'] === 'string' ? b['text'] : ''));
  return texts.filter((t) => t.includes('/outbox')).at(-1) ?? '';
}

/** `[[loop]]`: the agent calls a tool on every turn and never finishes by itself (only a budget stops it). */
const loopingAgent: MockScript = async (body, index) => {
  if (isAgentRequest(body) && runPrompt(body).includes('[[loop]]')) {
    return { kind: 'tool_use', name: 'Bash', input: { command: `echo loop-step-${index}`, description: 'one more step' } };
  }
  // With a budget, the CLI appends a message of its own ("USD budget: $0.0004/$0.0009; …") after
  // the tool result; the scripted agent looks for the tool result last, so that note is left out.
  const messages = (body.messages ?? []).filter((m) => (m.role as string) !== 'system');
  return scriptedAgent({ ...body, messages }, index);
};

before(async () => {
  env = await startE2eEnv({ repoIds: ['alpha', 'beta'] });
  env.mock.setScript(loopingAgent);
});

after(async () => {
  await env?.stop();
});

test('a task stopped by its budget ends budget_exceeded with a reply; "continue" resumes the session with a fresh budget and completes', async () => {
  const alpha = await env.repo('alpha', repoYaml(), { extra: { budget: { task_usd: 0.0009 } } });
  const { cfg, daemon } = env.daemonWith([alpha], 1);
  try {
    const m1 = await env.send('alpha', 'Spend it all', '[[loop]] keep going');
    const reply = await env.finalReplyTo(m1, 120_000);
    assert.equal(reply.header('x-airut-kind'), 'notice');
    assert.match(reply.text ?? '', /stopped by its budget/);
    assert.match(reply.text ?? '', /spent \$0\.0012 of its \$0\.0009 budget/);
    assert.match(reply.text ?? '', /Reply \**continue\**\s+to grant it one more budget of the same size \(\$0\.0009\)/);
    const t1 = taskFor(cfg, m1)!;
    assert.equal(t1.status, 'budget_exceeded');
    assert.ok((t1.cost_usd ?? 0) >= 0.0009, `cost ${t1.cost_usd} is past the budget`);
    assert.ok(t1.session_id, 'the session is kept for the follow-up');
    assert.equal(readDb(cfg, (db) => (db.prepare('SELECT budget_usd FROM tasks WHERE id = ?').get(t1.id) as { budget_usd: number }).budget_usd), 0.0009);

    const before = env.mock.messageRequests().length;
    const m2 = await env.send('alpha', `Re: ${reply.subject}`, 'continue [[bash:echo continued-ok]]', { inReplyTo: reply.messageId!, references: [m1, reply.messageId!] });
    const done = await env.finalReplyTo(m2, 120_000);
    assert.equal(done.header('x-airut-kind'), 'reply', done.text);
    assert.match(done.text ?? '', /continued-ok/, 'the continued task ran its tool and answered');
    const t2 = taskFor(cfg, m2)!;
    assert.equal(t2.status, 'completed');
    assert.equal(t2.conversation_id, t1.conversation_id);
    assert.equal(t2.session_id, t1.session_id, 'the same Claude session was resumed');
    assert.equal(t2.cost_usd, 0.0008, "the task's own cost, not the session's running total");
    const resumed = env.mock
      .messageRequests()
      .slice(before)
      .map((r) => r.body!)
      .find((b) => isAgentRequest(b) && latestPrompt(b).includes('continue'));
    assert.ok(resumed, 'the follow-up reached the API');
    assert.match(allMessageText(resumed), /loop-step-/, "the earlier session's tool calls came back with the follow-up");
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});

test('past a sender cap, the next mails are recorded, answered once with the figures, and never reach the API', async () => {
  const beta = await env.repo('beta', repoYaml(), { extra: { budget: { sender_per_day_usd: 0.0001 } } });
  const { cfg, daemon } = env.daemonWith([beta], 1);
  try {
    const first = await env.send('beta', 'First task', 'hello there');
    const ok = await env.finalReplyTo(first, 120_000);
    assert.match(ok.text ?? '', /your spend: 24 h \$0\.\d{4} of \$0\.0001, this month \$0\.\d{4}/, 'the footer shows the spend against the cap');
    const spent = taskFor(cfg, first)!.cost_usd!;
    assert.ok(spent >= 0.0001);

    const apiBefore = env.mock.messageRequests().length;
    const capped1 = await env.send('beta', 'Second task', 'capped-mail-one');
    const notice = await env.smtp.waitFor((m) => m.inReplyTo === capped1, 60_000);
    assert.equal(notice.header('x-airut-kind'), 'error');
    assert.deepEqual(notice.to, [ALICE]);
    assert.match(notice.text ?? '', /Your mail was not processed: it would go over a spending cap\./);
    assert.match(notice.text ?? '', /one sender may spend at most \$0\.0001/);
    assert.match(notice.text ?? '', /Send it again after \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    assert.match(notice.text ?? '', /budget\.sender_per_day_usd/);

    const capped2 = await env.send('beta', 'Third task', 'capped-mail-two');
    const row = await waitUntil(() => {
      const t = taskFor(cfg, capped2);
      return t?.status === 'rejected' ? t : undefined;
    }, 60_000, 'the third mail to be recorded');
    assert.ok(row);
    for (const id of [capped1, capped2]) {
      const reason = readDb(cfg, (db) => (db.prepare('SELECT reason FROM tasks WHERE message_id = ?').get(id) as { reason: string }).reason);
      assert.equal(reason, 'spend_capped');
    }
    assert.equal(env.repliesTo(capped2).length, 0, 'one reply per sender while capped');
    assert.equal(env.repliesTo(capped1).length, 1);
    const texts = env.mock.messageRequests().slice(apiBefore).map((r) => allMessageText(r.body!));
    assert.ok(!texts.some((t) => t.includes('capped-mail')), 'a capped mail never reaches the API');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
