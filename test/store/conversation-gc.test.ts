/** Conversation GC in the database, on a real SQLite file (WAL, migrations), with the real queue. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { claimNextTask, finishTask } from '../../src/store/task-queue.ts';
import { appendTaskEvent, listTaskEvents } from '../../src/store/task-events.ts';
import { enqueueMail } from '../../src/store/outgoing-mail.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { archiveConversation, compactUnthreadedMail, findIdleConversations } from '../../src/store/conversation-gc.ts';
import { conversationRecord, getConversation } from '../../src/store/conversations.ts';

const DAY = 86_400_000;
const T0 = 1_700_000_000_000;

function dbFile(): { db: Db; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-gc-store-'));
  const file = path.join(dir, 'airut.db');
  return { db: openDatabase(file, { migrate: true }), file };
}

let n = 0;
function mail(db: Db, repoId: string, at: number, refs: string[] = [], reject = false): number {
  n += 1;
  return acceptMail(
    db,
    {
      repoId,
      raw: Buffer.from(`Subject: s${n}\r\n\r\n${'body '.repeat(200)}${n}`),
      imapUid: n,
      messageId: `<m${n}@example.com>`,
      subject: `subject ${n}`,
      sender: 'alice@example.com',
      conversationCandidates: refs,
      verdict: reject ? { action: 'reject', reason: 'unauthorized', detail: 'not allowed' } : { action: 'accept', modelHint: null },
    },
    at,
  ).taskId;
}

/** One finished task in a new (or the given) conversation, with an event and a sent reply. */
function finishedTask(db: Db, repoId: string, at: number, refs: string[] = []): { taskId: number; conversationId: string } {
  const taskId = mail(db, repoId, at, refs);
  const claimed = claimNextTask(db, at)!;
  assert.equal(claimed.task.id, taskId);
  db.prepare(
    `INSERT INTO conversations (repo_id, id, model, subject, sender, created_at, last_activity_at) VALUES (?, ?, 'sonnet', ?, 'alice@example.com', ?, ?)
     ON CONFLICT (repo_id, id) DO UPDATE SET last_activity_at = excluded.last_activity_at`,
  ).run(repoId, claimed.conversationId, `subject ${taskId}`, at, at);
  appendTaskEvent(db, taskId, 'assistant', { text: 'x'.repeat(5000) }, at);
  db.transaction(() => {
    finishTask(db, taskId, { status: 'running', attempt: claimed.task.attempts }, { status: 'completed', costUsd: 0.01, turns: 1 }, at + 1000);
    const id = enqueueMail(db, {
      repoId,
      taskId,
      conversationId: claimed.conversationId,
      kind: 'reply',
      messageId: `<r${taskId}@repos.test>`,
      recipient: 'alice@example.com',
      subject: 'Re: x',
      raw: Buffer.from('reply '.repeat(300)),
    }, at + 1000);
    db.prepare(`UPDATE outgoing_mail SET status = 'sent', sent_at = ? WHERE id = ?`).run(at + 1100, id);
  })();
  return { taskId, conversationId: claimed.conversationId };
}

function rawLength(db: Db, taskId: number): number {
  return (db.prepare(`SELECT length(m.raw) AS n FROM tasks t JOIN messages m ON m.id = t.message_row WHERE t.id = ?`).get(taskId) as { n: number }).n;
}

test('an idle conversation is archived: a summary row stays, events and raw mail go, the task rows stay', () => {
  const { db, file } = dbFile();
  const old = finishedTask(db, 'api', T0);
  const follow = finishedTask(db, 'api', T0 + 1000, [old.conversationId]);
  assert.equal(follow.conversationId, old.conversationId);
  const fresh = finishedTask(db, 'api', T0 + 9 * DAY);
  const other = finishedTask(db, 'web', T0);

  const cutoff = T0 + 7 * DAY;
  const idle = findIdleConversations(db, 'api', cutoff);
  assert.deepEqual(idle.map((c) => c.id), [old.conversationId], 'the fresh conversation and the other repo are not idle here');

  const outcome = archiveConversation(db, 'api', old.conversationId, cutoff, T0 + 10 * DAY);
  assert.equal(outcome.kind, 'archived');
  assert.ok(outcome.kind === 'archived' && outcome.taskCount === 2 && outcome.eventsDeleted === 2 && outcome.bytesFreed > 2000);
  db.close();

  // Reopen the file: the change is durable.
  const db2 = openDatabase(file, { migrate: true });
  const conv = getConversation(db2, 'api', old.conversationId)!;
  assert.equal(conv.subject, `subject ${old.taskId}`);
  assert.equal(conv.archivedAt, T0 + 10 * DAY);
  assert.equal(conv.taskCount, 2);
  assert.equal(conv.lastActivityAt, T0 + 2000, 'last activity: the follow-up finishing');
  for (const t of [old.taskId, follow.taskId]) {
    assert.equal(getTask(db2, t)?.status, 'completed', 'task rows stay for the dashboard and /metrics');
    assert.deepEqual(listTaskEvents(db2, t), []);
    assert.equal(rawLength(db2, t), 0);
  }
  const sent = db2.prepare(`SELECT length(raw) AS n FROM outgoing_mail WHERE conversation_id = ?`).all(old.conversationId) as Array<{ n: number }>;
  assert.deepEqual(sent.map((r) => r.n), [0, 0]);
  for (const t of [fresh.taskId, other.taskId]) {
    assert.equal(listTaskEvents(db2, t).length, 1, 'other conversations are untouched');
    assert.ok(rawLength(db2, t) > 0);
  }
  assert.equal(conversationRecord(db2, 'api', old.conversationId), 'archived');
  assert.equal(conversationRecord(db2, 'api', fresh.conversationId), 'live');
  assert.equal(conversationRecord(db2, 'api', '0badc0de'), 'unknown');
  assert.deepEqual(findIdleConversations(db2, 'api', cutoff), [], 'archived once');
  assert.equal(archiveConversation(db2, 'api', old.conversationId, cutoff).kind, 'already-archived');

  // The same mail delivered again is still recognised (its dedupe key stayed).
  const again = acceptMail(db2, {
    repoId: 'api',
    raw: Buffer.from('different bytes'),
    imapUid: 999,
    messageId: `<m${old.taskId}@example.com>`,
    subject: 'x',
    sender: 'alice@example.com',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
  });
  assert.deepEqual(again, { kind: 'duplicate', taskId: old.taskId });
  db2.close();
});

test('a reply to an archived conversation starts a new one; an archived id is never handed out again', () => {
  const { db } = dbFile();
  const old = finishedTask(db, 'api', T0);
  assert.equal(archiveConversation(db, 'api', old.conversationId, T0 + DAY, T0 + 2 * DAY).kind, 'archived');
  const reply = mail(db, 'api', T0 + 3 * DAY, [old.conversationId]);
  const claimed = claimNextTask(db, T0 + 3 * DAY)!;
  assert.equal(claimed.task.id, reply);
  assert.notEqual(claimed.conversationId, old.conversationId);
  assert.equal(claimed.isNewConversation, true);
  db.close();
});

test('never archives a conversation with a queued, running or resume-pending task, or a queued mail threading into it', () => {
  const cutoff = T0 + 7 * DAY;
  const now = T0 + 8 * DAY;

  {
    const { db } = dbFile();
    mail(db, 'api', T0);
    const running = claimNextTask(db, T0)!;
    assert.equal(archiveConversation(db, 'api', running.conversationId, cutoff, now).kind, 'busy', 'running');
    db.close();
  }
  {
    const { db } = dbFile();
    const first = mail(db, 'api', T0);
    const claimedFirst = claimNextTask(db, T0)!;
    const conv = claimedFirst.conversationId;
    const followUp = mail(db, 'api', T0 + 1, [conv]);
    assert.equal(claimNextTask(db, T0 + 2), null, 'the follow-up waits, its conversation resolved');
    finishTask(db, first, { status: 'running', attempt: claimedFirst.task.attempts }, { status: 'completed' }, T0 + 3);
    assert.equal(getTask(db, followUp)?.conversationId, conv);
    assert.equal(archiveConversation(db, 'api', conv, cutoff, now).kind, 'busy', 'queued with the conversation resolved');
    db.close();
  }
  {
    const { db } = dbFile();
    const c = finishedTask(db, 'api', T0);
    const threaded = mail(db, 'api', T0 + 5, ['0badc0de', c.conversationId]);
    assert.equal(archiveConversation(db, 'api', c.conversationId, cutoff, now).kind, 'busy', 'queued, thread names it');
    db.prepare(`UPDATE tasks SET status = 'cancelled', finished_at = ? WHERE id = ?`).run(T0 + 6, threaded);
    assert.equal(archiveConversation(db, 'api', c.conversationId, cutoff, now).kind, 'archived');
    db.close();
  }
  {
    const { db } = dbFile();
    const d = finishedTask(db, 'api', T0);
    db.prepare(`UPDATE tasks SET status = 'interrupted', resume_pending = 1 WHERE id = ?`).run(d.taskId);
    assert.equal(archiveConversation(db, 'api', d.conversationId, cutoff, now).kind, 'busy', 'to resume after a restart');
    db.prepare(`UPDATE tasks SET resume_pending = 0 WHERE id = ?`).run(d.taskId);
    assert.equal(archiveConversation(db, 'api', d.conversationId, cutoff, now).kind, 'archived');
    db.close();
  }
  {
    // Found idle, then a task of it finished after the cutoff: left alone.
    const { db } = dbFile();
    const e = finishedTask(db, 'api', T0);
    db.prepare(`UPDATE tasks SET finished_at = ? WHERE id = ?`).run(cutoff + 1, e.taskId);
    assert.equal(archiveConversation(db, 'api', e.conversationId, cutoff, now).kind, 'active');
    db.close();
  }
});

test('a conversation only tasks know (no row yet) is archived with a summary taken from its first task', () => {
  const { db } = dbFile();
  const id = mail(db, 'api', T0);
  const claimed = claimNextTask(db, T0)!;
  finishTask(db, id, { status: 'running', attempt: claimed.task.attempts }, { status: 'failed', error: 'git fetch failed' }, T0 + 10);
  assert.deepEqual(findIdleConversations(db, 'api', T0 + DAY).map((c) => c.id), [claimed.conversationId]);
  assert.equal(archiveConversation(db, 'api', claimed.conversationId, T0 + DAY, T0 + 2 * DAY).kind, 'archived');
  const conv = getConversation(db, 'api', claimed.conversationId)!;
  assert.equal(conv.subject, getTask(db, id)?.subject);
  assert.equal(conv.taskCount, 1);
  assert.equal(conv.createdAt, T0);
  db.close();
});

test('rejected mail older than the cutoff loses its raw bytes; newer and queued mail keep them', () => {
  const { db } = dbFile();
  const oldRejected = mail(db, 'api', T0, [], true);
  const newRejected = mail(db, 'api', T0 + 9 * DAY, [], true);
  const queued = mail(db, 'api', T0);
  const freed = compactUnthreadedMail(db, 'api', T0 + 7 * DAY);
  // Rejected mail keeps its header section only (`Subject: sN`), so that is what is freed.
  assert.equal(freed, `Subject: s${n - 2}\r\n`.length);
  assert.equal(rawLength(db, oldRejected), 0);
  assert.ok(rawLength(db, newRejected) > 0);
  assert.ok(rawLength(db, queued) > 0, 'a queued task still needs its mail');
  assert.equal(getTask(db, oldRejected)?.reason, 'unauthorized', 'the rejection stays listed');
  assert.equal(compactUnthreadedMail(db, 'api', T0 + 7 * DAY), 0, 'nothing left to free');
  db.close();
});
