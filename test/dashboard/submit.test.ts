/**
 * The task API's writes (POST /api/tasks, …/messages) on a real database through createDashboardApp:
 * what is recorded, the answer, and every hostile or wrong body refused with the field named.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hono } from 'hono';
import { createDashboardApp } from '../../src/dashboard/server.ts';
import { MAX_PROMPT_CHARS } from '../../src/dashboard/submit-request.ts';
import { simpleParser } from 'mailparser';
import { getApiTask } from '../../src/store/api-tasks.ts';
import { claimNextTask } from '../../src/store/task-queue.ts';
import { getTask, getTaskRawMessage } from '../../src/store/task-queries.ts';
import type { Db } from '../../src/store/database.ts';
import type { ServerConfig } from '../../src/config/types.ts';
import { makeConfig, makeOptions, tempDb } from './helpers.ts';

const BASE = 'http://localhost';
const TOKEN = 'submit-test-token-0123456789';

interface Answer {
  status: number;
  body: any;
}

describe('task API: submitting', () => {
  let db: Db;
  let cleanup: () => void;
  let app: Hono;
  let config: ServerConfig;

  before(() => {
    ({ db, cleanup } = tempDb());
    const base = makeConfig(['alpha', 'beta', 'gamma'], { authToken: TOKEN });
    const alpha = base.repos.alpha!;
    config = {
      ...base,
      global: { ...base.global, claude: { ...base.global.claude, allowedModels: ['claude-opus-4-1'] } },
      repos: {
        ...base.repos,
        alpha: { ...alpha, authorizedSenders: ['alice@example.com'], budget: { ...alpha.budget, taskUsd: 5 }, limits: { ...alpha.limits, maxAttachments: 2 } },
      },
    };
    const h = makeOptions(db, config);
    app = createDashboardApp(h.options);
  });
  after(() => cleanup());

  async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const init: RequestInit = {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    };
    const r = await app.request(BASE + path, init);
    const text = await r.text();
    return { status: r.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  }

  async function rawOf(taskId: number) {
    return simpleParser(getTaskRawMessage(db, taskId)!);
  }

  it('creates a task with a conversation id assigned at once, as a synthetic mail from the API sender', async () => {
    const r = await post('/api/tasks', { repo: 'alpha', prompt: 'Fix the flaky test\nin ci please', effort: 'high', budget_usd: 2, model: 'opus' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const { task, conversation } = r.body;
    assert.equal(task.status, 'queued');
    assert.equal(task.url, `/tasks/${task.id}`);
    assert.equal(conversation.repo, 'alpha');
    assert.match(conversation.id, /^[0-9a-f]{8}$/);
    assert.equal(conversation.url, `/conversations/alpha/${conversation.id}`);
    const row = getTask(db, task.id)!;
    assert.equal(row.sender, 'api+admin@airut.invalid');
    assert.equal(row.subject, 'Fix the flaky test');
    assert.equal(row.modelHint, 'opus');
    assert.equal(row.effort, 'high');
    assert.deepEqual(getApiTask(db, task.id), { taskId: task.id, token: null, replyTo: null, newConversation: true, budgetUsd: 2 });
    const parsed = await rawOf(task.id);
    assert.match(parsed.text ?? '', /Fix the flaky test\nin ci please/);
    // The claim starts the conversation it was given, as a new one.
    const claim = claimNextTask(db, Date.now(), ['alpha'])!;
    assert.equal(claim.task.id, task.id);
    assert.equal(claim.conversationId, conversation.id);
    assert.equal(claim.isNewConversation, true);
  });

  it('continues a conversation: the conversation is the only candidate and the mail threads to it', async () => {
    const first = await post('/api/tasks', { repo: 'beta', prompt: 'start', subject: 'A subject' });
    const conv = first.body.conversation.id as string;
    const r = await post(`/api/conversations/beta/${conv}/messages`, { prompt: 'and now this' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.conversation.id, conv);
    const row = getTask(db, r.body.task.id)!;
    assert.equal(row.subject, `Re: [ID:${conv}] A subject`);
    const parsed = await rawOf(r.body.task.id);
    assert.equal(parsed.inReplyTo, getTask(db, first.body.task.id)!.messageId);
    assert.equal(getApiTask(db, r.body.task.id)!.newConversation, false);
  });

  it('mails replies to reply_to when the repository authorizes it, and refuses an address it does not', async () => {
    const ok = await post('/api/tasks', { repo: 'alpha', prompt: 'x', reply_to: 'Alice@Example.com' });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    assert.equal(getTask(db, ok.body.task.id)!.sender, 'alice@example.com');
    for (const replyTo of ['mallory@example.com', 'alice@example.com\r\nBcc: x@evil.test', 'Alice <alice@example.com>', 'a@b@example.com']) {
      const r = await post('/api/tasks', { repo: 'alpha', prompt: 'x', reply_to: replyTo });
      assert.equal(r.status, 400, replyTo);
      assert.match(r.body.error, /^reply_to/);
    }
  });

  it('attaches files as MIME parts', async () => {
    const r = await post('/api/tasks', {
      repo: 'beta',
      prompt: 'see the file',
      attachments: [{ name: 'notes.txt', content_base64: Buffer.from('hello file').toString('base64'), content_type: 'text/plain' }],
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const parsed = await rawOf(r.body.task.id);
    const att = parsed.attachments.find((a) => a.filename === 'notes.txt');
    assert.ok(att, 'the attachment is a part of the mail');
    assert.equal(att.content.toString(), 'hello file');
  });

  const hostile: Array<[string, unknown, number, RegExp]> = [
    ['not JSON', '{"repo": ', 400, /not valid JSON/],
    ['an array', [1, 2], 400, /JSON object/],
    ['no prompt', { repo: 'alpha' }, 400, /prompt is required/],
    ['an empty prompt', { repo: 'alpha', prompt: '  \n' }, 400, /prompt must not be empty/],
    ['a prompt of the wrong type', { repo: 'alpha', prompt: 42 }, 400, /^prompt must be string/],
    ['a huge prompt', { repo: 'alpha', prompt: 'x'.repeat(MAX_PROMPT_CHARS + 1) }, 400, /^prompt must NOT have more than/],
    ['neither repo nor repositories', { prompt: 'x' }, 400, /exactly one of repo and repositories/],
    ['both repo and repositories', { repo: 'alpha', repositories: [{ repo: 'beta' }], prompt: 'x' }, 400, /exactly one of repo and repositories/],
    ['two primaries', { repositories: [{ repo: 'alpha', primary: true }, { repo: 'beta', primary: true }], prompt: 'x' }, 400, /only one entry may be "primary"/],
    ['a repository twice', { repositories: [{ repo: 'alpha' }, { repo: 'alpha' }], prompt: 'x' }, 400, /repositories\[1\]\.repo: alpha is named twice/],
    ['a bad access', { repositories: [{ repo: 'alpha' }, { repo: 'beta', access: 'admin' }], prompt: 'x' }, 400, /repositories\[1\]\.access must be one of read, write/],
    ['an unsafe branch', { repositories: [{ repo: 'alpha' }, { repo: 'beta', branch: '../../etc' }], prompt: 'x' }, 400, /repositories\[1\]\.branch is not a safe branch name/],
    ['an option-like branch', { repositories: [{ repo: 'alpha' }, { repo: 'beta', branch: '--upload-pack=x' }], prompt: 'x' }, 400, /branch is not a safe branch name/],
    ['an unknown field', { repo: 'alpha', prompt: 'x', sudo: true }, 400, /sudo is not a field of this request/],
    ['an unknown repository', { repo: 'nope', prompt: 'x' }, 404, /no such repository/],
    ['a repository named like an object property', { repo: '__proto__', prompt: 'x' }, 404, /no such repository/],
    ['an unknown companion', { repositories: [{ repo: 'alpha' }, { repo: 'nope' }], prompt: 'x' }, 404, /no such repository/],
    ['an unknown model', { repo: 'alpha', prompt: 'x', model: 'gpt-5' }, 400, /^model: gpt-5 is neither an alias/],
    ['a bad effort', { repo: 'alpha', prompt: 'x', effort: 'extreme' }, 400, /^effort must be one of/],
    ['a budget over the repository\'s', { repo: 'alpha', prompt: 'x', budget_usd: 5.01 }, 400, /^budget_usd: 5.01 is over the repository's budget per task \(5\)/],
    ['a negative budget', { repo: 'alpha', prompt: 'x', budget_usd: -1 }, 400, /^budget_usd must be > 0/],
    ['a path in an attachment name', { repo: 'alpha', prompt: 'x', attachments: [{ name: '../../etc/passwd', content_base64: '' }] }, 400, /attachments\[0\]\.name must be a plain file name/],
    ['an absolute attachment name', { repo: 'alpha', prompt: 'x', attachments: [{ name: '/etc/passwd', content_base64: '' }] }, 400, /attachments\[0\]\.name must be a plain file name/],
    ['a backslash in an attachment name', { repo: 'alpha', prompt: 'x', attachments: [{ name: '..\\x', content_base64: '' }] }, 400, /must be a plain file name/],
    ['"..". as attachment name', { repo: 'alpha', prompt: 'x', attachments: [{ name: '..', content_base64: '' }] }, 400, /must be a plain file name/],
    ['a control character in an attachment name', { repo: 'alpha', prompt: 'x', attachments: [{ name: 'a\nb.txt', content_base64: '' }] }, 400, /must be a plain file name/],
    ['two attachments of one name', { repo: 'alpha', prompt: 'x', attachments: [{ name: 'a.txt', content_base64: '' }, { name: 'A.txt', content_base64: '' }] }, 400, /two attachments are called/],
    ['content that is not base64', { repo: 'alpha', prompt: 'x', attachments: [{ name: 'a.txt', content_base64: 'not base64!' }] }, 400, /attachments\[0\]\.content_base64 must be base64/],
    ['a header in a content type', { repo: 'alpha', prompt: 'x', attachments: [{ name: 'a.txt', content_base64: '', content_type: 'text/plain\r\nX-Evil: 1' }] }, 400, /attachments\[0\]\.content_type must match pattern/],
    ['more attachments than the repository allows', { repo: 'alpha', prompt: 'x', attachments: ['a', 'b', 'c'].map((n) => ({ name: n, content_base64: '' })) }, 413, /limits\.max_attachments is 2/],
    ['a branch for the primary', { repositories: [{ repo: 'alpha', branch: 'dev' }], prompt: 'x' }, 400, /primary repository \(alpha\) works on its own branch/],
  ];
  for (const [what, body, status, error] of hostile) {
    it(`refuses ${what}`, async () => {
      const before = (db.prepare(`SELECT count(*) AS n FROM tasks`).get() as { n: number }).n;
      const r = await post('/api/tasks', body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(r.body.error, error);
      assert.equal((db.prepare(`SELECT count(*) AS n FROM tasks`).get() as { n: number }).n, before, 'nothing is recorded');
    });
  }

  it('refuses a body that is not JSON by its type, and a body over the limit', async () => {
    assert.equal((await post('/api/tasks', '{}', { 'content-type': 'text/plain' })).status, 415);
    const huge = JSON.stringify({ repo: 'alpha', prompt: 'x'.repeat(37 * 1024 * 1024) });
    const r = await post('/api/tasks', huge);
    assert.equal(r.status, 413);
    assert.match(r.body.error, /request body too large/);
  });

  it('refuses a continuation of an unknown or malformed conversation with 404', async () => {
    for (const path of ['/api/conversations/alpha/0badc0de/messages', '/api/conversations/alpha/..%2f..%2fx/messages', '/api/conversations/nope/0badc0de/messages']) {
      const r = await post(path, { prompt: 'x' });
      assert.equal(r.status, 404, path);
    }
  });

  it('answers 429 with the reason when a rate limit refuses the task, and mails no notice', async () => {
    const base = makeConfig(['limited'], { authToken: TOKEN });
    const limited = base.repos.limited!;
    const cfg = { ...base, repos: { limited: { ...limited, limits: { ...limited.limits, tasksPerHour: 1 } } } };
    const limitedApp = createDashboardApp(makeOptions(db, cfg).options);
    const send = (prompt: string) =>
      limitedApp.request(BASE + '/api/tasks', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ repo: 'limited', prompt }),
      });
    assert.equal((await send('one')).status, 202);
    const r = await send('two');
    assert.equal(r.status, 429);
    assert.match(((await r.json()) as { error: string }).error, /^Rate limited: .*tasks_per_hour/);
    assert.equal((db.prepare(`SELECT count(*) AS n FROM outgoing_mail WHERE repo_id = 'limited'`).get() as { n: number }).n, 0);
  });

  it('on an open dashboard, takes a script\'s request and refuses another site\'s page', async () => {
    const openApp = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    const send = (headers: Record<string, string>) =>
      openApp.request(BASE + '/api/tasks', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: JSON.stringify({ repo: 'alpha', prompt: 'from a script' }),
      });
    assert.equal((await send({})).status, 202);
    const r = await send({ origin: 'https://evil.test', 'sec-fetch-site': 'cross-site' });
    assert.equal(r.status, 403);
    assert.match(((await r.json()) as { error: string }).error, /cross-site request refused/);
  });

  it('refuses a session request from another site (CSRF), as it does Stop', async () => {
    const r = await app.request(BASE + '/api/tasks', {
      method: 'POST',
      headers: { cookie: 'airut_session=nothing', 'content-type': 'application/json', accept: 'application/json', origin: 'https://evil.test' },
      body: JSON.stringify({ repo: 'alpha', prompt: 'x' }),
    });
    assert.ok(r.status === 401 || r.status === 403, String(r.status));
  });
});
