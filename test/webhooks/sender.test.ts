import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RepoServerConfig, WebhookConfig } from '../../src/config/types.ts';
import { writeTransaction, type Db } from '../../src/store/database.ts';
import { claimNextTask, finishTask } from '../../src/store/task-queue.ts';
import { getDelivery, listDeliveriesForTask, nextDeliveryDueAt } from '../../src/store/webhook-deliveries.ts';
import { WebhookSender, type WebhookSenderOptions } from '../../src/webhooks/sender.ts';
import { captureLog } from '../harness/capture-log.ts';
import { queuedTask, tempDatabase } from '../harness/queued-task.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { startReceiver, type Receiver } from '../harness/webhook-receiver.ts';

const SECRET = 'webhook-secret-0123456789abcdef';
let receiver: Receiver;
before(async () => {
  receiver = await startReceiver();
});
after(() => receiver.close());

function repos(webhook: Partial<WebhookConfig> | null = {}): Record<string, RepoServerConfig> {
  return { api: testRepoServerConfig('api', { webhook: webhook && { url: receiver.url, secret: SECRET, events: ['task.finished'], ...webhook } }) };
}

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

interface Setup {
  db: Db;
  sender: WebhookSender;
  taskId: number;
  lines: string[];
  time: ReturnType<typeof clock>;
}

/** A sender over a new database whose repository `api` has a webhook, and one task of it that just completed. */
function setup(options: WebhookSenderOptions = {}): Setup {
  const db = tempDatabase('webhook-sender');
  const { log, lines } = captureLog();
  const time = clock();
  const sender = new WebhookSender(db, repos(), log, { now: time.now, random: () => 0.5, baseBackoffMs: 1000, dashboardBaseUrl: () => 'https://airut.example', ...options });
  sender.setRepos(repos()); // writes the subscription, as start() does
  queuedTask(db);
  const claim = claimNextTask(db, time.now());
  assert.ok(claim);
  writeTransaction(db, () =>
    finishTask(db, claim.task.id, { status: 'running', attempt: claim.task.attempts }, { status: 'completed', costUsd: 0.5, turns: 4, error: null }, time.now() + 2000),
  );
  time.advance(2000);
  return { db, sender, taskId: claim.task.id, lines, time };
}

function onlyDelivery(s: Setup) {
  const [d, ...rest] = listDeliveriesForTask(s.db, s.taskId);
  assert.equal(rest.length, 0);
  assert.ok(d);
  return d;
}

test('a delivery is a signed JSON POST the receiver can verify with the secret', async () => {
  receiver.script([204]);
  const s = setup();
  assert.equal(await s.sender.runOnce(), 1);
  const [req] = receiver.requests;
  assert.ok(req);
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/hooks/airut?token=abc');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers['x-airut-event'], 'task.finished');
  const d = onlyDelivery(s);
  assert.equal(req.headers['x-airut-delivery'], d.key);
  assert.equal(req.headers['x-airut-timestamp'], String(Math.floor(s.time.now() / 1000)));
  // What docs/webhooks.md tells a receiver to do.
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${req.headers['x-airut-timestamp']}.${req.body}`).digest('hex')}`);
  const given = Buffer.from(String(req.headers['x-airut-signature']));
  assert.ok(given.length === expected.length && timingSafeEqual(given, expected), 'the signature verifies');
  const body = JSON.parse(req.body) as { event: string; repo: string; task: Record<string, unknown> };
  assert.deepEqual(body, {
    event: 'task.finished',
    repo: 'api',
    task: {
      id: s.taskId,
      status: 'completed',
      conversationId: d.task.conversationId,
      sender: 'a@example.com',
      subject: 's',
      costUsd: 0.5,
      turns: 4,
      error: null,
      startedAt: new Date(s.time.now() - 2000).toISOString(),
      finishedAt: new Date(s.time.now()).toISOString(),
      url: `https://airut.example/tasks/${s.taskId}`,
    },
  });
  assert.ok(!req.body.includes(SECRET) && !JSON.stringify(req.headers).includes(SECRET), 'the secret itself is never sent');
  assert.equal(d.status, 'delivered');
  assert.equal(d.attempts, 1);
  assert.ok(!s.lines.join('').includes('token=abc'), 'the URL is logged by its origin only');
});

test('a receiver that fails once gets a second attempt after the backoff, with the same delivery id', async () => {
  receiver.script([500, 200]);
  const s = setup();
  await s.sender.runOnce();
  let d = onlyDelivery(s);
  assert.deepEqual([d.status, d.attempts, d.lastError], ['pending', 1, 'HTTP 500 Internal Server Error']);
  assert.equal(d.nextAttemptAt, s.time.now() + 1000);
  assert.equal(await s.sender.runOnce(), 0, 'not due before its retry time');
  s.time.advance(1000);
  assert.equal(await s.sender.runOnce(), 1);
  d = onlyDelivery(s);
  assert.deepEqual([d.status, d.attempts, d.deliveredAt], ['delivered', 2, s.time.now()]);
  assert.equal(receiver.requests.length, 2);
  assert.equal(receiver.requests[0]?.headers['x-airut-delivery'], receiver.requests[1]?.headers['x-airut-delivery']);
  assert.ok(s.lines.some((l) => l.includes('will retry')));
});

test('a receiver that always fails is given up after the bound, with a warning', async () => {
  receiver.script([500]);
  const s = setup({ maxAttempts: 3 });
  for (let i = 0; i < 3; i++) {
    await s.sender.runOnce();
    s.time.advance(3_600_000);
  }
  const d = onlyDelivery(s);
  assert.equal(d.status, 'failed');
  assert.equal(d.attempts, 3);
  assert.equal(d.lastError, 'gave up after 3 attempts: HTTP 500 Internal Server Error');
  assert.equal(await s.sender.runOnce(), 0, 'nothing more is tried');
  assert.equal(receiver.requests.length, 3);
  const warning = s.lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.includes('giving up'));
  assert.equal(warning?.level, 40);
});

test('a delivery older than maxAgeMs is given up at its next failure', async () => {
  receiver.script([503]);
  const s = setup({ maxAgeMs: 60_000 });
  s.time.advance(60_000);
  await s.sender.runOnce();
  assert.equal(onlyDelivery(s).status, 'failed');
});

test('a redirect is not followed: it is a failed attempt', async () => {
  receiver.script([{ redirect: '/elsewhere' }, 200]);
  const s = setup();
  await s.sender.runOnce();
  assert.deepEqual(receiver.requests.map((r) => r.path), ['/hooks/airut?token=abc']);
  const d = onlyDelivery(s);
  assert.equal(d.status, 'pending');
  assert.match(d.lastError ?? '', /^HTTP 302: redirect not followed/);
});

test('a receiver that does not answer within the deadline is a failed attempt', async () => {
  receiver.script(['hang']);
  const s = setup({ timeoutMs: 300 });
  await s.sender.runOnce();
  const d = onlyDelivery(s);
  assert.equal(d.status, 'pending');
  assert.equal(d.lastError, 'no answer within 300 ms');
});

test('a receiver that is down is a failed attempt naming the connection error, not the URL', async () => {
  const s = setup();
  s.sender.setRepos(repos({ url: 'http://127.0.0.1:9/secret-path?token=xyz' }));
  await s.sender.runOnce();
  const d = onlyDelivery(s);
  assert.equal(d.status, 'pending');
  assert.match(d.lastError ?? '', /ECONNREFUSED/);
  assert.ok(!(d.lastError ?? '').includes('secret-path') && !s.lines.join('').includes('token=xyz'));
});

test('after a restart, a new sender sends what the old one left pending', async () => {
  receiver.script([500, 200]);
  const s = setup();
  await s.sender.runOnce();
  await s.sender.stop();
  assert.equal(onlyDelivery(s).status, 'pending');
  // The retry time is far off; a new process tries at once (the receiver may have been fixed).
  const next = new WebhookSender(s.db, repos(), captureLog().log, { now: s.time.now });
  next.start();
  try {
    await receiver.received(2);
  } finally {
    await next.stop();
  }
  const d = onlyDelivery(s);
  assert.deepEqual([d.status, d.attempts], ['delivered', 2]);
});

test('a webhook removed by a reload: no new deliveries, and the pending one is dropped with its reason', async () => {
  receiver.script([200]);
  const s = setup();
  s.sender.setRepos(repos(null));
  await s.sender.runOnce();
  assert.equal(receiver.requests.length, 0);
  const d = onlyDelivery(s);
  assert.deepEqual([d.status, d.attempts, d.lastError], ['failed', 0, 'the repository no longer has a webhook for this event']);
  // And the next outcome of the repository is not queued at all.
  queuedTask(s.db);
  const claim = claimNextTask(s.db, s.time.now());
  assert.ok(claim);
  writeTransaction(s.db, () => finishTask(s.db, claim.task.id, { status: 'running', attempt: 1 }, { status: 'failed', error: 'x' }));
  assert.deepEqual(listDeliveriesForTask(s.db, claim.task.id), []);
  assert.equal(getDelivery(s.db, d.id)?.status, 'failed');
});

test('a running loop sleeps until the next delivery is due: a retry goes at its time with no poll in between, and an idle loop reads nothing until kicked', async () => {
  receiver.script([500, 200, 200]);
  const db = tempDatabase('webhook-sender-loop');
  const sender = new WebhookSender(db, repos(), captureLog().log, { baseBackoffMs: 300, pollIntervalMs: 10, idlePollMs: 600_000, random: () => 0.5 });
  /** A task of `api` that finishes now (real time: the loop's timers run on it). */
  const finishOne = (): void => {
    queuedTask(db);
    const claim = claimNextTask(db, Date.now());
    assert.ok(claim);
    writeTransaction(db, () => finishTask(db, claim.task.id, { status: 'running', attempt: claim.task.attempts }, { status: 'completed', costUsd: 0, turns: 1, error: null }, Date.now()));
  };
  sender.start();
  try {
    finishOne();
    assert.notEqual(nextDeliveryDueAt(db), null, 'the finished task queued a delivery');
    sender.kick();
    await receiver.received(2);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(nextDeliveryDueAt(db), null, 'the retry went when due, without a kick, and nothing is left pending');

    // A delivery queued by a path that does not kick waits for the kick (or the idle poll).
    finishOne();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 2, 'no round ran while idle');
    sender.kick();
    await receiver.received(3);
  } finally {
    await sender.stop();
    db.close();
  }
});
