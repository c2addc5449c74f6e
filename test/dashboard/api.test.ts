import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDashboardApp, startDashboard } from '../../src/dashboard/server.ts';
import { registerSecretValues } from '../../src/log/logger.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { enqueueMail, markAttemptFailed } from '../../src/store/outgoing-mail.ts';
import { saveListenerStatus } from '../../src/store/repo-status.ts';
import { appendTaskEvent, recordApiRetry } from '../../src/store/task-events.ts';
import { setTaskEffort, setTaskModel } from '../../src/store/task-queue.ts';
import { recordTaskStage } from '../../src/store/task-stages.ts';
import { archiveConversation } from '../../src/store/conversation-gc.ts';
import type { Db } from '../../src/store/database.ts';
import { insertTask, makeConfig, makeOptions, readSse, tempDb } from './helpers.ts';

const BASE = 'http://localhost';

async function getJson(app: { request: (u: string, i?: RequestInit) => Response | Promise<Response> }, path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const r = await app.request(BASE + path, init);
  return { status: r.status, body: await r.json() };
}

async function csrfOf(app: { request: (u: string, i?: RequestInit) => Response | Promise<Response> }, headers: Record<string, string> = {}): Promise<string> {
  const html = await (await app.request(BASE + '/', { headers: { accept: 'text/html', ...headers } })).text();
  const m = /data-csrf="([^"]+)"/.exec(html);
  assert.ok(m, 'the page carries a CSRF token');
  return m[1]!;
}

// ---- a tiny Prometheus text-format (0.0.4) parser, strict enough to catch format mistakes ----
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  assert.ok(text.endsWith('\n'), 'ends with a line feed');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      assert.ok(m, `malformed comment: ${line}`);
      if (m[1] === 'TYPE') {
        assert.match(m[3]!, /^(counter|gauge|histogram|summary|untyped)$/);
        assert.ok(!types.has(m[2]!), `TYPE twice for ${m[2]}`);
        types.set(m[2]!, m[3]!);
      } else helps.add(m[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `malformed sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let lm: RegExpExecArray | null;
      let consumed = 0;
      while ((lm = re.exec(m[3])) !== null) {
        labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        consumed = re.lastIndex;
      }
      assert.equal(consumed, m[3].length, `malformed labels: ${line}`);
    }
    const raw = m[4]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    assert.ok(!Number.isNaN(value) || raw === 'NaN', `bad value: ${line}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
    const base = types.has(m[1]!) ? m[1]! : family;
    assert.ok(types.has(base), `sample before its TYPE: ${line}`);
    assert.ok(helps.has(base), `sample before its HELP: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}

function sample(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value;
}

describe('dashboard JSON API', () => {
  let db: Db;
  let cleanup: () => void;
  before(() => ({ db, cleanup } = tempDb()));
  after(() => cleanup());

  it('pages newest first with a cursor that new tasks never shift', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha', 'beta'])).options);
    const ids: number[] = [];
    for (let i = 0; i < 120; i++) ids.push(insertTask(db, { repoId: i % 2 ? 'alpha' : 'beta' }));
    const seen: number[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const { status, body } = await getJson(app, `/api/tasks?limit=50${cursor ? `&before=${cursor}` : ''}`);
      assert.equal(status, 200);
      const pageIds = body.tasks.map((t: { id: number }) => t.id);
      assert.deepEqual(pageIds, [...pageIds].sort((a: number, b: number) => b - a), 'newest first');
      seen.push(...pageIds);
      cursor = body.nextBefore;
      // Mail keeps arriving while someone pages.
      for (let i = 0; i < 7; i++) insertTask(db, { repoId: 'alpha' });
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [...ids].reverse(), 'every task exactly once, in order, none of the newcomers');
  });

  it('filters by repo and status, and refuses bad parameters', async () => {
    const { db: fdb, cleanup: c2 } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(fdb, makeConfig(['alpha', 'beta'])).options);
      insertTask(fdb, { repoId: 'alpha', status: 'completed' });
      insertTask(fdb, { repoId: 'alpha', status: 'failed' });
      insertTask(fdb, { repoId: 'beta', status: 'completed' });
      insertTask(fdb, { repoId: 'beta', status: 'rejected', reason: 'unauthorized' });
      const repo = await getJson(app, '/api/tasks?repo=beta');
      assert.deepEqual(repo.body.tasks.map((t: any) => t.repoId), ['beta', 'beta']);
      const st = await getJson(app, '/api/tasks?status=completed');
      assert.deepEqual(st.body.tasks.map((t: any) => t.repoId).sort(), ['alpha', 'beta']);
      const both = await getJson(app, '/api/tasks?repo=alpha&status=failed');
      assert.equal(both.body.tasks.length, 1);
      assert.equal(both.body.tasks[0].status, 'failed');
      assert.equal(both.body.nextBefore, null);
      assert.equal((await getJson(app, '/api/tasks?status=bogus')).status, 400);
      assert.equal((await getJson(app, '/api/tasks?before=abc')).status, 400);
      assert.equal((await getJson(app, '/api/tasks?limit=100000')).status, 400);
      const page = await (await app.request(BASE + '/?repo=beta&status=rejected', { headers: { accept: 'text/html' } })).text();
      assert.match(page, /Rejected: <strong>unauthorized<\/strong>/);
      assert.equal((page.match(/data-task-id="/g) ?? []).length, 1);
    } finally {
      c2();
    }
  });

  it('shows one task with its events and replies, and a conversation with its total cost', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    const t1 = insertTask(db, { repoId: 'alpha', status: 'completed', conversationId: 'abcd1234', sessionId: 's1', costUsd: 0.5, startedAt: 1, finishedAt: 2 });
    const t2 = insertTask(db, { repoId: 'alpha', status: 'completed', conversationId: 'abcd1234', sessionId: 's1', costUsd: 0.75, startedAt: 3, finishedAt: 4 });
    appendTaskEvent(db, t2, 'assistant_text', { type: 'assistant_text', text: 'done' });
    const mailId = enqueueMail(db, { repoId: 'alpha', taskId: t2, conversationId: 'abcd1234', kind: 'reply', messageId: '<r@x>', recipient: 'alice@example.com', subject: 'Re: [ID:abcd1234] hi', raw: Buffer.from('x') });
    markAttemptFailed(db, mailId, '451 try later', Date.now() + 1000);
    recordTaskStage(db, t2, 1, 'repo-inputs', 3);
    recordTaskStage(db, t2, 1, 'agent', 3.5);
    const { body } = await getJson(app, `/api/tasks/${t2}`);
    assert.deepEqual(body.stages, [
      { attempt: 1, stage: 'repo-inputs', at: 3 },
      { attempt: 1, stage: 'agent', at: 3.5 },
    ]);
    assert.equal(body.task.id, t2);
    assert.equal(body.events.length, 1);
    assert.equal(body.events[0].data.text, 'done');
    assert.equal(body.replies[0].status, 'pending');
    assert.equal(body.replies[0].lastError, '451 try later');
    assert.equal((await getJson(app, '/api/tasks/999999')).status, 404);

    const page = await (await app.request(BASE + `/tasks/${t2}`, { headers: { accept: 'text/html' } })).text();
    assert.match(page, /href="\/conversations\/alpha\/abcd1234"/);
    assert.match(page, /451 try later/);
    assert.match(page, /Re: \[ID:abcd1234\] hi/);

    const conv = await getJson(app, '/api/conversations/alpha/abcd1234');
    assert.deepEqual(conv.body.tasks.map((t: any) => t.id), [t1, t2]);
    // total_cost_usd accumulates over a session: the total is the session's last value, not 1.25.
    assert.equal(conv.body.totalCostUsd, 0.75);
    const convPage = await (await app.request(BASE + '/conversations/alpha/abcd1234', { headers: { accept: 'text/html' } })).text();
    assert.match(convPage, /data-role="total-cost">\$0\.7500</);
    assert.equal((await app.request(BASE + '/conversations/alpha/ffffffff', { headers: { accept: 'text/html' } })).status, 404);
  });

  it('a paused task shows its API retries in the facts and the timeline, its effort next to the model; the new statuses read well', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    const t = insertTask(db, { repoId: 'alpha', status: 'paused', conversationId: 'beef0001', sessionId: 's9', startedAt: 1, finishedAt: 2 });
    setTaskModel(db, t, 'opus');
    setTaskEffort(db, t, 'high');
    recordApiRetry(db, t, { attempt: 1, cause: 'rate_limited', detail: 'API 429 rate_limit_error', delaySeconds: 10, message: 'API retry 1: API 429 rate_limit_error (rate_limited); resuming the session in 10 s' });
    recordApiRetry(db, t, { attempt: 2, cause: 'overloaded', detail: 'API 529 overloaded_error', delaySeconds: 20, message: 'API retry 2: API 529 overloaded_error (overloaded); resuming the session in 20 s' });
    const { body } = await getJson(app, `/api/tasks/${t}`);
    assert.equal(body.task.apiRetries, 2);
    assert.equal(body.task.effort, 'high');
    const page = await (await app.request(BASE + `/tasks/${t}`, { headers: { accept: 'text/html' } })).text();
    assert.match(page, /class="status status-paused" data-role="status">paused</);
    assert.match(page, /<dt>API retries<\/dt><dd><span data-role="api-retries">2<\/span>/);
    assert.match(page, /<dt>Model<\/dt><dd>opus · effort high<\/dd>/);
    assert.match(page, /API retry 1 · rate limited[\s\S]*API 429 rate_limit_error/);
    assert.match(page, /API retry 2 · overloaded[\s\S]*resuming the session in 20 s/);

    const b = insertTask(db, { repoId: 'alpha', status: 'budget_exceeded' });
    const list = await (await app.request(BASE + '/?status=budget_exceeded', { headers: { accept: 'text/html' } })).text();
    assert.match(list, new RegExp(`data-task-id="${b}"`));
    assert.match(list, /class="status status-budget_exceeded" data-role="status">budget exceeded</);
    assert.match(list, /<option value="budget_exceeded" selected>budget exceeded<\/option>/);
  });

  it('an archived conversation still lists its tasks and says its files and events were deleted', async () => {
    const { db: adb, cleanup: c2 } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(adb, makeConfig(['alpha'])).options);
      const t = insertTask(adb, { repoId: 'alpha', status: 'completed', conversationId: 'feed0001', costUsd: 0.5, createdAt: 1000, startedAt: 1000, finishedAt: 2000 });
      appendTaskEvent(adb, t, 'assistant_text', { type: 'assistant_text', text: 'done' }, 2000);
      assert.equal(archiveConversation(adb, 'alpha', 'feed0001', 10_000, 20_000).kind, 'archived');
      const conv = await getJson(app, '/api/conversations/alpha/feed0001');
      assert.equal(conv.body.conversation.archivedAt, 20_000);
      assert.equal(conv.body.conversation.taskCount, 1);
      assert.deepEqual(conv.body.tasks.map((x: any) => x.id), [t]);
      const convPage = await (await app.request(BASE + '/conversations/alpha/feed0001', { headers: { accept: 'text/html' } })).text();
      assert.match(convPage, /data-role="archived"/);
      const taskPage = await (await app.request(BASE + `/tasks/${t}`, { headers: { accept: 'text/html' } })).text();
      assert.match(taskPage, /archived after being idle; its event log was deleted/);
    } finally {
      c2();
    }
  });

  it('/health turns 503 when a listener backs off and 200 when it recovers', async () => {
    const { db: hdb, cleanup: c2 } = tempDb();
    try {
      let extra: Array<{ component: string; message: string }> = [];
      const app = createDashboardApp(makeOptions(hdb, makeConfig(['alpha', 'beta']), { healthProblems: () => extra }).options);
      saveListenerStatus(hdb, 'alpha', { state: 'idle', detail: 'IDLE on INBOX', lastError: null, nextRetryAt: null });
      saveListenerStatus(hdb, 'beta', { state: 'polling', detail: null, lastError: null, nextRetryAt: null });
      let r = await getJson(app, '/health');
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ok');
      assert.equal(r.body.repos.alpha.state, 'idle');

      const retry = Date.now() + 8000;
      saveListenerStatus(hdb, 'beta', { state: 'backoff', detail: 'reconnecting in 8 s', lastError: 'connect ECONNREFUSED 127.0.0.1:1143', nextRetryAt: retry });
      r = await getJson(app, '/health');
      assert.equal(r.status, 503);
      assert.equal(r.body.status, 'degraded');
      assert.deepEqual(
        { state: r.body.repos.beta.state, lastError: r.body.repos.beta.lastError, nextRetryAt: r.body.repos.beta.nextRetryAt },
        { state: 'backoff', lastError: 'connect ECONNREFUSED 127.0.0.1:1143', nextRetryAt: retry },
      );
      assert.equal(r.body.repos.alpha.healthy, true);
      assert.ok(r.body.problems.some((p: any) => p.component === 'repo:beta'));

      saveListenerStatus(hdb, 'beta', { state: 'connecting', detail: null, lastError: null, nextRetryAt: null });
      assert.equal((await getJson(app, '/health')).status, 200, 'connecting right after a retry is healthy');
      saveListenerStatus(hdb, 'beta', { state: 'connecting', detail: null, lastError: null, nextRetryAt: null }, Date.now() - 120_000);
      assert.equal((await getJson(app, '/health')).status, 503, 'stuck connecting is not');
      saveListenerStatus(hdb, 'beta', { state: 'idle', detail: null, lastError: null, nextRetryAt: null });
      assert.equal((await getJson(app, '/health')).status, 200);

      extra = [{ component: 'database', message: 'disk full' }];
      r = await getJson(app, '/health');
      assert.equal(r.status, 503);
      assert.deepEqual(r.body.problems, extra);
    } finally {
      c2();
    }
  });

  it('a listener that cannot log in (error state) shows the provider’s message on /health and the Repos page; the other repo stays healthy', async () => {
    const { db: hdb, cleanup: c2 } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(hdb, makeConfig(['alpha', 'beta'])).options);
      const message = 'MAIL_OAUTH2_FAILED: the OAuth2 provider at oauth2.example did not refresh the access token of client app-1: invalid_grant (HTTP 400): Token has been expired or revoked.';
      const retry = Date.now() + 30_000;
      saveListenerStatus(hdb, 'alpha', { state: 'idle', detail: 'IDLE on INBOX', lastError: null, nextRetryAt: null });
      saveListenerStatus(hdb, 'beta', { state: 'error', detail: 'cannot log in until the login or grant is fixed; next try in 30 s', lastError: message, nextRetryAt: retry });
      const r = await getJson(app, '/health');
      assert.equal(r.status, 503);
      assert.deepEqual([r.body.repos.beta.state, r.body.repos.beta.healthy, r.body.repos.beta.lastError, r.body.repos.beta.nextRetryAt], ['error', false, message, retry]);
      assert.equal(r.body.repos.alpha.healthy, true);
      assert.deepEqual(r.body.problems, [{ component: 'repo:beta', message: `listener cannot log in until this is fixed: ${message}` }]);

      const page = await (await app.request(BASE + '/repos', { headers: { accept: 'text/html' } })).text();
      const beta = page.slice(page.indexOf('data-repo="beta"'));
      assert.match(beta, /<span class="state unhealthy">error<\/span>/);
      assert.match(beta, /<dt>Cannot log in until fixed<\/dt><dd class="error-text" data-role="last-error">MAIL_OAUTH2_FAILED: [^<]*Token has been expired or revoked\.<\/dd>/);
      assert.match(beta, /<dt>Next retry<\/dt>/);

      const metrics = await (await app.request(BASE + '/metrics')).text();
      assert.match(metrics, /airut_listener_state\{repo="beta",state="error"\} 1/);
    } finally {
      c2();
    }
  });

  it('a repository left out by a resilient start has a "failed to start" card on the Repos page with its problems, escaped', async () => {
    const { db: hdb, cleanup: c2 } = tempDb();
    try {
      const problems = ['repos.beta.email.password: environment variable PW_BETA is not set', 'repos.beta.git.repo_url: <script>x</script>'];
      const app = createDashboardApp(makeOptions(hdb, makeConfig(['alpha']), { failedRepos: () => [{ id: 'beta', problems }] }).options);
      const page = await (await app.request(BASE + '/repos', { headers: { accept: 'text/html' } })).text();
      const beta = page.slice(page.indexOf('data-repo="beta"'));
      assert.ok(page.includes('data-repo="beta"'), page);
      assert.match(beta, /data-failed="true"/);
      assert.match(beta, /<span class="state unhealthy">failed to start<\/span>/);
      assert.match(beta, /<li>repos\.beta\.email\.password: environment variable PW_BETA is not set<\/li>/);
      assert.ok(beta.includes('&lt;script&gt;x&lt;/script&gt;') && !beta.includes('<script>x'), 'problems are escaped');
      assert.ok(page.includes('data-repo="alpha"'), 'the running repository keeps its card');
    } finally {
      c2();
    }
  });

  it('/metrics is valid Prometheus text whose counters match the store', async () => {
    const { db: mdb, cleanup: c2 } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(mdb, makeConfig(['alpha', 'be"ta'])).options);
      const mail = (repoId: string, n: number, verdict: any) =>
        acceptMail(mdb, { repoId, raw: Buffer.from(`mail ${repoId} ${n} ${Math.random()}`), imapUid: n, messageId: `<${repoId}-${n}@x>`, subject: 's', sender: 'a@example.com', conversationCandidates: [], verdict });
      for (let i = 0; i < 5; i++) mail('alpha', i, { action: 'accept', modelHint: null });
      mail('alpha', 10, { action: 'reject', reason: 'unauthorized', detail: 'no' });
      mail('alpha', 11, { action: 'reject', reason: 'unauthorized', detail: 'no' });
      mail('alpha', 12, { action: 'reject', reason: 'auth_failed', detail: 'no' });
      const dup = mail('alpha', 0, { action: 'accept', modelHint: null });
      assert.equal(dup.kind, 'duplicate', 'a second delivery of the same Message-ID is not new mail');
      mail('be"ta', 1, { action: 'accept', modelHint: null });
      // outcomes with known run times: 3 s, 100 s, 20 s
      const base = Date.now() - 1_000_000;
      insertTask(mdb, { repoId: 'alpha', status: 'completed', startedAt: base, finishedAt: base + 3_000 });
      insertTask(mdb, { repoId: 'alpha', status: 'completed', startedAt: base, finishedAt: base + 100_000 });
      insertTask(mdb, { repoId: 'alpha', status: 'failed', startedAt: base, finishedAt: base + 20_000 });
      insertTask(mdb, { repoId: 'alpha', status: 'running', startedAt: base });
      saveListenerStatus(mdb, 'alpha', { state: 'backoff', detail: null, lastError: 'x', nextRetryAt: null });
      enqueueMail(mdb, { repoId: 'alpha', taskId: null, conversationId: null, kind: 'notice', messageId: '<n@x>', recipient: 'a@x', subject: 's', raw: Buffer.from('x') });

      const r = await app.request(BASE + '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const { samples, types } = parsePrometheus(await r.text());
      assert.equal(types.get('airut_task_duration_seconds'), 'histogram');
      assert.equal(types.get('airut_mail_received_total'), 'counter');
      assert.equal(sample(samples, 'airut_mail_received_total', { repo: 'alpha' }), 5 + 3 + 4);
      assert.equal(sample(samples, 'airut_mail_accepted_total', { repo: 'alpha' }), 5 + 4);
      assert.equal(sample(samples, 'airut_mail_rejected_total', { repo: 'alpha', reason: 'unauthorized' }), 2);
      assert.equal(sample(samples, 'airut_mail_rejected_total', { repo: 'alpha', reason: 'auth_failed' }), 1);
      assert.equal(sample(samples, 'airut_mail_received_total', { repo: 'be"ta' }), 1, 'label values are escaped and parse back');
      assert.equal(sample(samples, 'airut_tasks_total', { repo: 'alpha', status: 'completed' }), 2);
      assert.equal(sample(samples, 'airut_tasks_total', { repo: 'alpha', status: 'failed' }), 1);
      assert.equal(sample(samples, 'airut_queue_depth', { repo: 'alpha' }), 5);
      assert.equal(sample(samples, 'airut_tasks_running', { repo: 'alpha' }), 1);
      assert.equal(sample(samples, 'airut_replies_pending', { repo: 'alpha' }), 1);
      assert.equal(sample(samples, 'airut_listener_state', { repo: 'alpha', state: 'backoff' }), 1);
      assert.equal(sample(samples, 'airut_listener_state', { repo: 'alpha', state: 'idle' }), 0);
      assert.equal(sample(samples, 'airut_task_duration_seconds_bucket', { repo: 'alpha', le: '5' }), 1);
      assert.equal(sample(samples, 'airut_task_duration_seconds_bucket', { repo: 'alpha', le: '30' }), 2);
      assert.equal(sample(samples, 'airut_task_duration_seconds_bucket', { repo: 'alpha', le: '120' }), 3);
      assert.equal(sample(samples, 'airut_task_duration_seconds_bucket', { repo: 'alpha', le: '+Inf' }), 3);
      assert.equal(sample(samples, 'airut_task_duration_seconds_count', { repo: 'alpha' }), 3);
      assert.equal(sample(samples, 'airut_task_duration_seconds_sum', { repo: 'alpha' }), 123);
      // buckets are cumulative
      const buckets = samples.filter((s) => s.name === 'airut_task_duration_seconds_bucket' && s.labels.repo === 'alpha').map((s) => s.value);
      assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b));
    } finally {
      c2();
    }
  });

  it('/metrics counts what finished tasks cost per repository and sender (airut_spend_usd_total)', async () => {
    const { db: mdb, cleanup: c2 } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(mdb, makeConfig(['alpha', 'be"ta'])).options);
      const base = Date.now() - 1_000_000;
      insertTask(mdb, { repoId: 'alpha', status: 'budget_exceeded', startedAt: base, finishedAt: base + 1, costUsd: 0.25, sender: 'bob@example.com' });
      insertTask(mdb, { repoId: 'alpha', status: 'completed', startedAt: base, finishedAt: base + 1, costUsd: 0.5, sender: 'bob@example.com' });
      insertTask(mdb, { repoId: 'alpha', status: 'running', startedAt: base, sender: 'dave@example.com' });
      insertTask(mdb, { repoId: 'be"ta', status: 'failed', startedAt: base, finishedAt: base + 1, costUsd: 1, sender: 'carol@example.com' });
      const { samples, types } = parsePrometheus(await (await app.request(BASE + '/metrics')).text());
      assert.equal(types.get('airut_spend_usd_total'), 'counter');
      assert.equal(sample(samples, 'airut_spend_usd_total', { repo: 'alpha', sender: 'bob@example.com' }), 0.75);
      assert.equal(sample(samples, 'airut_spend_usd_total', { repo: 'be"ta', sender: 'carol@example.com' }), 1);
      assert.equal(samples.filter((x) => x.name === 'airut_spend_usd_total').length, 2, 'only senders with a recorded cost');
    } finally {
      c2();
    }
  });

  it('the Repositories page and /api/repos show spend per repository and per sender, today and this month, against the caps', async () => {
    const { db: sdb, cleanup: c2 } = tempDb();
    try {
      const config = makeConfig(['alpha', 'beta']);
      const budget = { taskUsd: 2, senderPerDayUsd: 10, senderPerMonthUsd: null, repoPerDayUsd: null, repoPerMonthUsd: 100 };
      const withCaps = { ...config, repos: { ...config.repos, alpha: { ...config.repos.alpha!, budget } } };
      const app = createDashboardApp(makeOptions(sdb, withCaps).options);
      const now = Date.now();
      const hour = 3_600_000;
      insertTask(sdb, { repoId: 'alpha', status: 'completed', startedAt: now - 2 * hour, finishedAt: now - hour, costUsd: 1.5, sender: 'bob@example.com' });
      insertTask(sdb, { repoId: 'alpha', status: 'budget_exceeded', startedAt: now - 2 * hour, finishedAt: now - hour, costUsd: 2.25, sender: '<b>eve@example.com' });
      const r = await getJson(app, '/api/repos');
      const alpha = r.body.repos.find((x: { id: string }) => x.id === 'alpha');
      assert.equal(alpha.spend.dayUsd, 3.75);
      assert.deepEqual(alpha.spend.limits, budget);
      assert.deepEqual(alpha.spend.bySender.map((x: { sender: string; dayUsd: number }) => [x.sender, x.dayUsd]), [
        ['<b>eve@example.com', 2.25],
        ['bob@example.com', 1.5],
      ]);
      const beta = r.body.repos.find((x: { id: string }) => x.id === 'beta');
      assert.deepEqual([beta.spend.dayUsd, beta.spend.monthUsd, beta.spend.bySender], [0, 0, []]);

      const page = await (await app.request(BASE + '/repos', { headers: { accept: 'text/html' } })).text();
      const card = page.slice(page.indexOf('data-repo="alpha"'), page.indexOf('data-repo="beta"'));
      assert.match(card, /<dd data-role="spend-day">\$3\.75<\/dd>/);
      assert.match(card, /<dd data-role="spend-month">\$[\d.]+ of \$100\.00<\/dd>/);
      assert.match(card, /<td>bob@example\.com<\/td><td>\$1\.50 of \$10\.00<\/td>/);
      assert.ok(card.includes('&lt;b&gt;eve@example.com') && !card.includes('<b>eve'), 'senders are escaped');
    } finally {
      c2();
    }
  });

  it('sends security headers on every response', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    for (const path of ['/', '/api/tasks', '/nope', '/static/app.js', '/health']) {
      const r = await app.request(BASE + path, { headers: { accept: 'text/html' } });
      assert.equal(
        r.headers.get('content-security-policy'),
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        path,
      );
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    }
    const evil = await app.request(BASE + '/api/tasks', { headers: { host: 'attacker.example' } });
    assert.equal(evil.status, 421, 'an open dashboard refuses a foreign Host (DNS rebinding)');
  });

  it('never shows a registered secret value', async () => {
    registerSecretValues(['hunter2-super-secret-value']);
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'])).options);
    const id = insertTask(db, { repoId: 'alpha', status: 'failed', error: 'git clone https://x:hunter2-super-secret-value@github.com failed', subject: 'uses hunter2-super-secret-value' });
    appendTaskEvent(db, id, 'tool_use', { type: 'tool_use', id: 't', name: 'Bash', input: { command: 'echo hunter2-super-secret-value' } });
    for (const path of [`/tasks/${id}`, `/api/tasks/${id}`, '/', '/api/tasks']) {
      const text = await (await app.request(BASE + path, { headers: { accept: 'text/html' } })).text();
      assert.ok(!text.includes('hunter2-super-secret-value'), path);
      assert.ok(text.includes('[REDACTED]'), path);
    }
  });
});

describe('dashboard auth token', () => {
  let db: Db;
  let cleanup: () => void;
  const TOKEN = 'tok-0123456789abcdef-XYZ';
  before(() => ({ db, cleanup } = tempDb()));
  after(() => cleanup());

  it('answers 401 without the token and leaks nothing', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'], { authToken: TOKEN })).options);
    const id = insertTask(db, { repoId: 'alpha', subject: 'CONFIDENTIAL-SUBJECT', sender: 'boss@example.com' });
    saveListenerStatus(db, 'alpha', { state: 'backoff', detail: null, lastError: 'CONFIDENTIAL-ERROR', nextRetryAt: null });
    for (const path of ['/', `/tasks/${id}`, '/repos', '/conversations/alpha/x', '/api/tasks', `/api/tasks/${id}`, '/api/repos', '/metrics', `/api/stream/tasks/${id}`, '/api/stream/tasks']) {
      for (const accept of ['text/html', 'application/json']) {
        const r = await app.request(BASE + path, { headers: { accept } });
        assert.equal(r.status, 401, path);
        // The login form echoes back the path the visitor asked for (escaped); nothing else.
        const text = (await r.text()).replace(/name="next" value="[^"]*"/, '');
        assert.ok(!/CONFIDENTIAL|boss@example|alpha/.test(text), `${path} leaks: ${text.slice(0, 200)}`);
        assert.ok(!text.includes('data-csrf="') || text.includes('data-csrf=""'), 'no CSRF token for strangers');
      }
    }
    const wrong = await app.request(BASE + '/api/tasks', { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const stop = await app.request(BASE + `/api/tasks/${id}/stop`, { method: 'POST', headers: { origin: BASE } });
    assert.equal(stop.status, 401);
    // The health probe stays open but says only up or down.
    const health = await getJson(app, '/health');
    assert.equal(health.status, 503);
    assert.deepEqual(health.body, { status: 'degraded' });
    assert.equal((await app.request(BASE + '/static/app.css')).status, 200);
  });

  it('lets the bearer header and the login cookie through', async () => {
    const app = createDashboardApp(makeOptions(db, makeConfig(['alpha'], { authToken: TOKEN })).options);
    const ok = await getJson(app, '/api/tasks', { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.tasks.some((t: any) => t.subject === 'CONFIDENTIAL-SUBJECT'));
    const health = await getJson(app, '/health', { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(health.body.repos.alpha.lastError, 'CONFIDENTIAL-ERROR');

    const bad = await app.request(BASE + '/login', { method: 'POST', headers: { origin: BASE, 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=wrong&next=/repos' });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
    const crossSite = await app.request(BASE + '/login', { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` });
    assert.equal(crossSite.status, 403);

    const login = await app.request(BASE + '/login', { method: 'POST', headers: { origin: BASE, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(TOKEN)}&next=${encodeURIComponent('//evil.example/')}` });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/', 'no open redirect');
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Strict/i);
    assert.ok(!setCookie.includes(TOKEN), 'the cookie does not carry the token itself');
    const cookie = setCookie.split(';')[0]!;
    const page = await app.request(BASE + '/', { headers: { cookie, accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /CONFIDENTIAL-SUBJECT/);
    const forged = await app.request(BASE + '/', { headers: { cookie: 'airut_session=forged', accept: 'text/html' } });
    assert.equal(forged.status, 401);
  });
});

describe('stop endpoint', () => {
  let db: Db;
  let cleanup: () => void;
  before(() => ({ db, cleanup } = tempDb()));
  after(() => cleanup());

  it('refuses cross-site requests and calls stopTask for a valid one', async () => {
    const h = makeOptions(db, makeConfig(['alpha']));
    const app = createDashboardApp(h.options);
    const id = insertTask(db, { repoId: 'alpha', status: 'running', startedAt: Date.now() });
    const csrf = await csrfOf(app);
    const post = (headers: Record<string, string>, body?: string) => app.request(BASE + `/api/tasks/${id}/stop`, { method: 'POST', headers, ...(body ? { body } : {}) });

    assert.equal((await post({ 'x-csrf-token': csrf })).status, 403, 'no Origin');
    assert.equal((await post({ origin: 'https://evil.example', 'x-csrf-token': csrf })).status, 403, 'foreign Origin');
    assert.equal((await post({ origin: 'null', 'x-csrf-token': csrf })).status, 403, 'opaque Origin');
    assert.equal((await post({ origin: BASE, 'sec-fetch-site': 'cross-site', 'x-csrf-token': csrf })).status, 403, 'Sec-Fetch-Site');
    assert.equal((await post({ origin: BASE })).status, 403, 'no CSRF token');
    assert.equal((await post({ origin: BASE, 'x-csrf-token': 'guess' })).status, 403, 'wrong CSRF token');
    assert.deepEqual(h.stopCalls, []);

    const ok = await post({ origin: BASE, 'sec-fetch-site': 'same-origin', 'x-csrf-token': csrf, accept: 'application/json' });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, status: 'cancelled', message: 'Stopped.' });
    assert.deepEqual(h.stopCalls, [id]);

    // the no-JavaScript form: token in the body, answered with a redirect back to the task
    const form = await post({ origin: BASE, 'content-type': 'application/x-www-form-urlencoded' }, `csrf=${encodeURIComponent(csrf)}`);
    assert.equal(form.status, 303);
    assert.equal(form.headers.get('location'), `/tasks/${id}`);
    assert.deepEqual(h.stopCalls, [id, id]);

    db.prepare(`UPDATE tasks SET status = 'completed' WHERE id = ?`).run(id);
    const done = await post({ origin: BASE, 'x-csrf-token': csrf });
    assert.equal(done.status, 409);
    assert.equal(h.stopCalls.length, 2, 'a finished task is not stopped again');
    assert.equal((await app.request(BASE + '/api/tasks/99999/stop', { method: 'POST', headers: { origin: BASE, 'x-csrf-token': csrf } })).status, 404);
  });

  it('with a token, a Bearer client needs no CSRF token but a cookie session does', async () => {
    const TOKEN = 'another-token-0987654321';
    const h = makeOptions(db, makeConfig(['alpha'], { authToken: TOKEN }));
    const app = createDashboardApp(h.options);
    const id = insertTask(db, { repoId: 'alpha', status: 'queued' });
    const r = await app.request(BASE + `/api/tasks/${id}/stop`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    const login = await app.request(BASE + '/login', { method: 'POST', headers: { origin: BASE, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const noCsrf = await app.request(BASE + `/api/tasks/${id}/stop`, { method: 'POST', headers: { cookie, origin: BASE } });
    assert.equal(noCsrf.status, 403);
    const csrf = await csrfOf(app, { cookie });
    const withCsrf = await app.request(BASE + `/api/tasks/${id}/stop`, { method: 'POST', headers: { cookie, origin: BASE, 'x-csrf-token': csrf } });
    assert.equal(withCsrf.status, 200);
    assert.deepEqual(h.stopCalls, [id, id]);
  });
});

describe('live streams', () => {
  it('replays a task from a cursor, then follows it; cleans up on disconnect', async () => {
    const { db, cleanup } = tempDb();
    const h = makeOptions(db, makeConfig(['alpha']));
    const dash = await startDashboard(h.options);
    try {
      const id = insertTask(db, { repoId: 'alpha', status: 'running', startedAt: Date.now() });
      const e1 = appendTaskEvent(db, id, 'assistant_text', { type: 'assistant_text', text: 'one' });
      appendTaskEvent(db, id, 'assistant_text', { type: 'assistant_text', text: 'two' });
      type Sse = { event: string; id?: string; data: string };
      const timeline = (evs: Sse[]) => evs.filter((e) => e.event === 'timeline');

      const first = await readSse(`${dash.url}/api/stream/tasks/${id}?after=${e1}`, {}, (evs) => timeline(evs).length >= 1 && evs.some((e) => e.event === 'task'));
      assert.deepEqual(timeline(first.events).map((e) => JSON.parse(e.data).kind), ['assistant_text']);
      assert.match(JSON.parse(timeline(first.events)[0]!.data).html, /two/);
      assert.equal(h.feed.listenerCount('task-event'), 1);

      // live: append and notify
      const pending = readSse(`${dash.url}/api/stream/tasks/${id}`, { 'last-event-id': String(e1 + 1) }, (evs) => timeline(evs).length >= 1);
      await new Promise((r) => setTimeout(r, 150));
      const e3 = appendTaskEvent(db, id, 'tool_use', { type: 'tool_use', id: 'x', name: 'Bash', input: { command: 'make test' } });
      h.feed.emit('task-event', { taskId: id, eventId: e3 });
      const second = await pending;
      assert.equal(timeline(second.events)[0]!.id, String(e3), 'Last-Event-ID resumes after the last seen event');
      assert.match(JSON.parse(timeline(second.events)[0]!.data).html, /make test/);

      // the list stream sees status changes
      const list = readSse(`${dash.url}/api/stream/tasks?repo=alpha`, {}, (evs) => evs.some((e) => e.event === 'task'));
      await new Promise((r) => setTimeout(r, 150));
      db.prepare(`UPDATE tasks SET status = 'cancelled', finished_at = ? WHERE id = ?`).run(Date.now(), id);
      h.feed.emit('task', id);
      const listed = await list;
      const card = JSON.parse(listed.events.find((e) => e.event === 'task')!.data);
      assert.equal(card.status, 'cancelled');
      assert.match(card.html, /status-cancelled/);

      first.close();
      second.close();
      listed.close();
      for (let i = 0; i < 50 && (h.feed.listenerCount('task') > 0 || h.feed.listenerCount('task-event') > 0); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.feed.listenerCount('task'), 0, 'listeners removed when the last stream closes');
      assert.equal(h.feed.listenerCount('task-event'), 0);
    } finally {
      await dash.close();
      cleanup();
    }
  });

  it('close() ends open streams promptly', async () => {
    const { db, cleanup } = tempDb();
    const h = makeOptions(db, makeConfig(['alpha']));
    const dash = await startDashboard(h.options);
    const open = await readSse(`${dash.url}/api/stream/tasks`, {}, () => true, 2000).catch(() => null);
    const t0 = Date.now();
    await dash.close();
    assert.ok(Date.now() - t0 < 1500, `closed in ${Date.now() - t0} ms`);
    open?.close();
    cleanup();
  });
});

describe('stored mail of rejected tasks (issue 13, item 16)', () => {
  it('the task page says what is kept of a rejected mail: headers only, or nothing once the day\'s budget was spent', async () => {
    const { db: rdb, cleanup } = tempDb();
    try {
      const app = createDashboardApp(makeOptions(rdb, makeConfig(['alpha'])).options);
      const raw = Buffer.from(`From: mallory@evil.example\r\nSubject: spoof\r\n\r\n${'B'.repeat(50_000)}\r\n`);
      const spoof = (budget: number, uid: number) =>
        acceptMail(
          rdb,
          { repoId: 'alpha', raw: Buffer.concat([raw, Buffer.from(String(uid))]), imapUid: uid, messageId: null, subject: 'spoof', sender: 'mallory@evil.example', conversationCandidates: [], verdict: { action: 'reject', reason: 'auth_failed', detail: 'dmarc=fail' } },
          Date.now(),
          { maxStoredBytesPerDay: budget, perSourcePerHour: null },
        );
      const page = async (o: ReturnType<typeof spoof>) =>
        (await app.request(BASE + `/tasks/${'taskId' in o ? o.taskId : 0}`, { headers: { accept: 'text/html' } })).text();
      const kept = await page(spoof(1_000_000, 1));
      assert.match(kept, /data-stored="headers"[^>]*>Mail stored: headers only; body not stored\. The mail was 48\.9 KiB/);
      const none = await page(spoof(0, 2));
      assert.match(none, /data-stored="none"[^>]*>Mail stored: none — headers only would have been kept, but the day&#39;s budget for rejected mail/);
      // An accepted task's page says nothing about it.
      const ok = insertTask(rdb, { repoId: 'alpha', status: 'completed' });
      assert.doesNotMatch(await (await app.request(BASE + `/tasks/${ok}`, { headers: { accept: 'text/html' } })).text(), /data-role="stored-mail"/);
    } finally {
      cleanup();
    }
  });
});
