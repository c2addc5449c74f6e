/**
 * Issue 22, the task API end to end: the real daemon, podman, the Claude Code CLI (scripted through
 * the mock Anthropic API), Dovecot and SMTP. A task submitted over HTTP completes; its result text
 * and its outbox file are read over HTTP, and nothing is mailed; it is continued over the API (same
 * conversation, the session resumed), then by mail (the subject tag; the reply is mailed); a task
 * with reply_to has its reply mailed, threaded to the conversation. One daemon serves every step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { allMessageText } from '../harness/mock-anthropic.ts';
import { latestPrompt } from '../harness/scripted-agent.ts';
import { waitUntil } from '../harness/daemon-process.ts';
import { freePort } from '../harness/ports.ts';
import { ALICE, isAck, repoYaml, startE2eEnv, taskFor, type E2eEnv } from '../harness/e2e-env.ts';

const TOKEN = 'e2e-task-api-token-0123456789abcdef';

let env: E2eEnv;

before(async () => {
  env = await startE2eEnv({ repoIds: ['apitask'] });
});

after(async () => {
  await env?.stop();
});

interface Submitted {
  task: { id: number; status: string; url: string };
  conversation: { repo: string; id: string; url: string };
}

interface TaskView {
  task: { id: number; status: string; conversationId: string | null; sessionId: string | null; messageId: string | null };
  result: { text: string; isError: boolean } | null;
  files: Array<{ direction: string; name: string; downloadUrl: string | null }>;
}

test('a task submitted by API completes, is read by API, and continues by API and by mail', { timeout: 420_000 }, async () => {
  const repo = await env.repo('apitask', repoYaml());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { cfg, daemon } = env.daemonWith([repo], 1, { dashboard: { enabled: true, host: '127.0.0.1', port, auth_token: TOKEN } });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const post = async (path: string, body: unknown): Promise<Submitted> => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    assert.equal(res.status, 202, text);
    return JSON.parse(text) as Submitted;
  };
  const finished = (taskId: number): Promise<TaskView> =>
    waitUntil(
      async () => {
        const res = await fetch(`${base}/api/tasks/${taskId}`, { headers: auth }).catch(() => null);
        if (!res?.ok) return undefined;
        const view = (await res.json()) as TaskView;
        return ['queued', 'running'].includes(view.task.status) || view.result === null ? undefined : view;
      },
      180_000,
      `task ${taskId} to finish`,
    );
  try {
    await waitUntil(() => fetch(`${base}/health`).then((r) => r.ok || undefined, () => undefined), 60_000, 'the dashboard to answer');

    // 1. Submitted by API, without reply_to: the result and the outbox file are read over HTTP.
    const first = await post('/api/tasks', { repo: 'apitask', subject: 'Make a report', prompt: '[[bash:echo api-report-77 > /outbox/report.txt && echo wrote-the-report]]' });
    const conv = first.conversation.id;
    assert.match(conv, /^[0-9a-f]{8}$/);
    const v1 = await finished(first.task.id);
    assert.equal(v1.task.status, 'completed');
    assert.equal(v1.task.conversationId, conv, 'the conversation named in the answer is the one that ran');
    assert.deepEqual(v1.result && { isError: v1.result.isError, has: v1.result.text.includes('wrote-the-report') }, { isError: false, has: true });
    const out = v1.files.find((f) => f.direction === 'out' && f.name === 'report.txt');
    assert.ok(out?.downloadUrl, `the outbox file is listed with a download URL (${JSON.stringify(v1.files)})`);
    const download = await fetch(`${base}${out.downloadUrl}`, { headers: auth });
    assert.equal(download.status, 200);
    assert.equal(await download.text(), 'api-report-77\n');
    assert.ok(v1.task.sessionId, 'the session is recorded');

    // 2. Continued by API: same conversation, the session resumed (the API sees the earlier turns).
    const before = env.mock.messageRequests().length;
    const second = await post(`/api/conversations/apitask/${conv}/messages`, { prompt: 'A second question about the report' });
    assert.equal(second.conversation.id, conv);
    const v2 = await finished(second.task.id);
    assert.equal(v2.task.status, 'completed');
    assert.equal(v2.task.conversationId, conv);
    const resumed = env.mock.messageRequests().slice(before).map((r) => r.body as Parameters<typeof allMessageText>[0]).find((b) => latestPrompt(b).includes('second question'));
    assert.ok(resumed, 'the follow-up reached the API');
    assert.match(allMessageText(resumed), /wrote-the-report/, 'earlier turns were sent with the follow-up');
    assert.equal(v2.result?.isError, false);

    // Nothing was mailed for the API's own sender: no acknowledgement, no reply.
    assert.deepEqual(env.smtp.messages.filter((m) => m.to.some((t) => t.endsWith('.invalid'))), []);
    assert.equal(env.smtp.messages.length, 0, 'no mail at all so far');

    // 3. Continued by mail: the conversation's subject tag, from an authorized sender; the reply is mailed.
    const m3 = await env.send('apitask', `Re: [ID:${conv}] Make a report`, 'A third question, by mail');
    const r3 = await env.finalReplyTo(m3, 180_000);
    assert.equal(r3.header('x-airut-conversation'), conv);
    assert.equal(r3.subject, `Re: [ID:${conv}] Make a report`);
    assert.deepEqual(r3.to, [ALICE]);
    assert.equal(taskFor(cfg, m3)?.conversation_id, conv);

    // 4. With reply_to: the reply is mailed to that address, threaded to the task's mail and tagged with its conversation.
    const fourth = await post('/api/tasks', { repo: 'apitask', prompt: 'Mail me the answer please', reply_to: ALICE });
    const v4 = await finished(fourth.task.id);
    assert.equal(v4.task.status, 'completed');
    const r4 = await env.finalReplyTo(v4.task.messageId!, 60_000);
    assert.deepEqual(r4.to, [ALICE]);
    assert.equal(r4.header('x-airut-conversation'), fourth.conversation.id);
    assert.equal(r4.subject, `Re: [ID:${fourth.conversation.id}] Mail me the answer please`);
    assert.ok(r4.references.includes(v4.task.messageId!));
    assert.match(r4.text ?? '', /Done\./, 'the mail carries the answer the API gives as result');
    assert.match(v4.result?.text ?? '', /Done\./);
    assert.equal(env.repliesTo(v4.task.messageId!).filter(isAck).length, 1, 'a new conversation by reply_to is acknowledged as by mail');
    assert.equal(await daemon.stop('SIGTERM'), 0);
  } finally {
    await daemon.stop('SIGKILL');
  }
});
