/**
 * The conversation sweeper with real directories (ConversationStore), a real SQLite file and, for
 * image pruning, real podman with tiny images built FROM scratch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ConversationStore } from '../../src/conversation/store.ts';
import { ConversationSweeper, IMAGE_GRACE_MS } from '../../src/gc/conversation-sweeper.ts';
import { ContainerBackend } from '../../src/sandbox/container-backend.ts';
import { ensureImage } from '../../src/sandbox/image.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { claimNextTask, finishTask } from '../../src/store/task-queue.ts';
import { appendTaskEvent, listTaskEvents } from '../../src/store/task-events.ts';
import { getConversation } from '../../src/store/conversations.ts';
import { recordRepoImage } from '../../src/store/repo-images.ts';
import { getRejectedMailDay } from '../../src/store/rejected-mail.ts';
import { testRuntime } from '../harness/podman-env.ts';
import { keepTaskFile } from '../../src/task-files/keep.ts';
import { listTaskFiles } from '../../src/store/task-content.ts';
import { DELETED_WITH_CONVERSATION } from '../../src/store/task-content.ts';

const DAY = 86_400_000;
const silent = pino({ level: 'silent' });

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

let n = 0;
function queueMail(db: Db, repoId: string, refs: string[] = []): number {
  n += 1;
  return acceptMail(db, {
    repoId,
    raw: Buffer.from(`Subject: s${n}\r\n\r\nbody ${n}`),
    imapUid: n,
    messageId: `<sweep${n}.${randomBytes(4).toString('hex')}@example.com>`,
    subject: `subject ${n}`,
    sender: 'alice@example.com',
    conversationCandidates: refs,
    verdict: { action: 'accept', modelHint: null },
  }).taskId;
}

/** A conversation the way the runner makes one: a claimed task, the directory, the row. */
async function conversation(db: Db, store: ConversationStore, repoId: string, finish = true): Promise<{ id: string; taskId: number }> {
  const taskId = queueMail(db, repoId);
  const claimed = claimNextTask(db)!;
  assert.equal(claimed.task.id, taskId);
  await store.create(claimed.conversationId, { repoId, model: 'sonnet', subject: claimed.task.subject });
  fs.writeFileSync(path.join(store.paths(claimed.conversationId).workspace, 'README.md'), 'work\n');
  const now = Date.now();
  db.prepare(
    `INSERT INTO conversations (repo_id, id, model, subject, created_at, last_activity_at) VALUES (?, ?, 'sonnet', ?, ?, ?)`,
  ).run(repoId, claimed.conversationId, claimed.task.subject, now, now);
  appendTaskEvent(db, taskId, 'assistant', { text: 'hello' });
  if (finish) finishTask(db, taskId, { status: 'running', attempt: claimed.task.attempts }, { status: 'completed' });
  return { id: claimed.conversationId, taskId };
}

test('a sweep deletes idle conversations and stray directories, keeps busy and recent ones', async () => {
  const dir = tempDir('airut-sweeper-');
  const db = openDatabase(path.join(dir, 'airut.db'), { migrate: true });
  const repos = {
    api: { repoId: 'api', storageDir: path.join(dir, 'storage', 'api') },
    web: { repoId: 'web', storageDir: path.join(dir, 'storage', 'web') },
  };
  const api = new ConversationStore(repos.api.storageDir);
  const web = new ConversationStore(repos.web.storageDir);
  try {
    const idle = await conversation(db, api, 'api');
    const idleWeb = await conversation(db, web, 'web');
    const busy = await conversation(db, api, 'api', false); // still running
    const recent = await conversation(db, api, 'api');
    // A stray directory the database does not know (e.g. the database file was replaced).
    await api.create('0badc0de', { repoId: 'api', model: 'sonnet' });
    const later = Date.now() + 8 * DAY;
    // "recent" had a task finish a day before the sweep.
    db.prepare(`UPDATE tasks SET finished_at = ? WHERE id = ?`).run(later - DAY, recent.taskId);

    const sweeper = new ConversationSweeper({ db, repos, maxAgeDays: 7, images: null, log: silent, now: () => later });
    const report = await sweeper.sweep();

    assert.deepEqual(report.archived.map((c) => `${c.repoId}/${c.id}`).sort(), [`api/${idle.id}`, `web/${idleWeb.id}`].sort());
    assert.deepEqual(report.busy, [{ repoId: 'api', id: busy.id }]);
    assert.deepEqual(await api.listConversations(), [busy.id, recent.id].sort());
    assert.deepEqual(await web.listConversations(), []);
    assert.ok(report.directoriesRemoved.includes(api.paths('0badc0de').root), 'the stray directory went too');
    assert.equal(getConversation(db, 'api', idle.id)?.archivedAt, later);
    assert.equal(getConversation(db, 'api', idle.id)?.taskCount, 1);
    assert.deepEqual(listTaskEvents(db, idle.taskId), []);
    assert.equal(listTaskEvents(db, busy.taskId).length, 1);
    assert.equal(getConversation(db, 'api', busy.id)?.archivedAt, null);
    assert.deepEqual(report.errors, []);

    // Once its task is done, the busy one goes at the next sweep; a directory left behind by a failed
    // delete of an archived conversation is removed too.
    finishTask(db, busy.taskId, { status: 'running', attempt: 1 }, { status: 'completed' }, Date.now());
    fs.mkdirSync(api.paths(idle.id).workspace, { recursive: true });
    const second = await sweeper.sweep();
    assert.deepEqual(second.archived.map((c) => c.id), [busy.id]);
    assert.ok(second.directoriesRemoved.includes(api.paths(idle.id).root));
    assert.deepEqual(await api.listConversations(), [recent.id]);
    await sweeper.stop();
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("an archived conversation's kept files are deleted with its directory; their rows stay, marked not kept", async () => {
  const dir = tempDir('airut-sweeper-files-');
  const db = openDatabase(path.join(dir, 'airut.db'), { migrate: true });
  const repos = { api: { repoId: 'api', storageDir: path.join(dir, 'storage', 'api') } };
  const api = new ConversationStore(repos.api.storageDir);
  try {
    const idle = await conversation(db, api, 'api');
    const recent = await conversation(db, api, 'api');
    const target = (id: string) => ({ db, storageDir: repos.api.storageDir, conversationId: id, capBytes: 1000, log: silent });
    const content = { kind: 'bytes', data: Buffer.from('kept') } as const;
    await keepTaskFile(target(idle.id), { taskId: idle.taskId, direction: 'in', name: 'a.txt', contentType: 'text/plain', content });
    await keepTaskFile(target(recent.id), { taskId: recent.taskId, direction: 'out', name: 'b.txt', contentType: 'text/plain', content });
    const idleCopy = path.join(repos.api.storageDir, listTaskFiles(db, idle.taskId)[0]!.path!);
    const recentCopy = path.join(repos.api.storageDir, listTaskFiles(db, recent.taskId)[0]!.path!);
    const later = Date.now() + 8 * DAY;
    db.prepare(`UPDATE tasks SET finished_at = ? WHERE id = ?`).run(later - DAY, recent.taskId);

    const report = await new ConversationSweeper({ db, repos, maxAgeDays: 7, images: null, log: silent, now: () => later }).sweep();
    assert.deepEqual(report.archived.map((c) => c.id), [idle.id]);
    assert.equal(fs.existsSync(idleCopy), false);
    assert.deepEqual(listTaskFiles(db, idle.taskId).map((f) => [f.name, f.path, f.note]), [['a.txt', null, DELETED_WITH_CONVERSATION]]);
    assert.equal(fs.readFileSync(recentCopy, 'utf8'), 'kept', 'a live conversation keeps its files');
    assert.equal(listTaskFiles(db, recent.taskId)[0]!.note, null);
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a sweep empties old rejected mail and forgets the days of the rejected-mail account with it', async () => {
  const dir = tempDir('airut-sweeper-rej-');
  const db = openDatabase(path.join(dir, 'airut.db'), { migrate: true });
  const repos = { api: { repoId: 'api', storageDir: path.join(dir, 'storage', 'api') } };
  try {
    const t0 = Date.UTC(2024, 4, 6, 10, 0, 0);
    const spoof = (at: number) =>
      acceptMail(
        db,
        {
          repoId: 'api',
          raw: Buffer.from(`From: mallory@evil.example\r\nSubject: spoof ${at}\r\n\r\n${'B'.repeat(10_000)}`),
          imapUid: null,
          messageId: null,
          subject: 'spoof',
          sender: 'mallory@evil.example',
          conversationCandidates: [],
          verdict: { action: 'reject', reason: 'auth_failed', detail: 'dmarc=fail' },
        },
        at,
      );
    spoof(t0);
    spoof(t0 + 9 * DAY);
    const sweeper = new ConversationSweeper({ db, repos, maxAgeDays: 7, images: null, log: silent, now: () => t0 + 10 * DAY });
    const report = await sweeper.sweep();
    assert.deepEqual(report.errors, []);
    assert.ok(report.bytesFreed > 0 && report.bytesFreed < 100, `only the old header section was freed (${report.bytesFreed})`);
    assert.deepEqual(getRejectedMailDay(db, t0), null, 'the old day is forgotten');
    assert.equal(getRejectedMailDay(db, t0 + 9 * DAY)?.headersStored, 1, 'the recent day stays');
    await sweeper.stop();
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('image pruning removes only our images that are not current, leaves unknown repos and other daemons alone', async () => {
  const runtime = testRuntime();
  const dir = tempDir('airut-sweeper-img-');
  const suffix = randomBytes(3).toString('hex');
  const mine = `gc-${suffix}`;
  const db = openDatabase(path.join(dir, 'airut.db'), { migrate: true });
  const built: string[] = [];
  const image = async (repoId: string, content: string, instance: string): Promise<string> => {
    const ctx = path.join(dir, `ctx-${built.length}`);
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n');
    fs.writeFileSync(path.join(ctx, 'a.txt'), content);
    const { tag } = await ensureImage({ runtime, contextDir: ctx, repoId, labels: { instance } });
    built.push(tag);
    return tag;
  };
  try {
    const aOld = await image(`a-${suffix}`, 'old', mine);
    const aNew = await image(`a-${suffix}`, 'new', mine);
    const bOnly = await image(`b-${suffix}`, 'b', mine); // repo b: no task recorded an image yet
    const gone = await image(`c-${suffix}`, 'c', mine); // repo c: no longer configured
    const foreign = await image(`a-${suffix}`, 'other daemon', `other-${suffix}`);
    const later = Date.now() + 2 * IMAGE_GRACE_MS;
    recordRepoImage(db, `a-${suffix}`, aOld, Date.now() - DAY);
    recordRepoImage(db, `a-${suffix}`, aNew, Date.now());
    recordRepoImage(db, `c-${suffix}`, gone, Date.now() - DAY);
    const repos = {
      [`a-${suffix}`]: { repoId: `a-${suffix}`, storageDir: path.join(dir, 'a') },
      [`b-${suffix}`]: { repoId: `b-${suffix}`, storageDir: path.join(dir, 'b') },
    };
    const images = new ContainerBackend({ runtime, instance: mine, containerNetwork: 'default', claudeBinaryPath: '/unused', capacity: 1, sandbox: null });
    const sweeper = new ConversationSweeper({ db, repos, maxAgeDays: 7, images, log: silent, now: () => later });
    const report = await sweeper.sweep();
    assert.deepEqual([...report.imagesRemoved].sort(), [aOld, gone].sort());
    for (const tag of [aNew, bOnly, foreign]) assert.ok(await runtime.imageExists(tag), `${tag} kept`);
    for (const tag of [aOld, gone]) assert.equal(await runtime.imageExists(tag), false, `${tag} removed`);
    assert.deepEqual(
      (db.prepare(`SELECT tag FROM repo_images ORDER BY tag`).all() as Array<{ tag: string }>).map((r) => r.tag),
      [aNew],
      'removed images are forgotten',
    );
  } finally {
    for (const tag of built) await runtime.removeImage(tag).catch(() => undefined);
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
