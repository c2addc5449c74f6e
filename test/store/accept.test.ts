import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import type { IncomingMail } from '../../src/protocol/incoming-mail.ts';
import { getTask, getTaskRawMessage, listTasks } from '../../src/store/task-queries.ts';
import { SCHEMA_VERSION } from '../../src/store/migrations.ts';

function tempDb() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-store-'));
  return { file: path.join(dir, 'airut.db'), dir };
}

function mail(overrides: Partial<IncomingMail> = {}): IncomingMail {
  return {
    repoId: 'api',
    raw: Buffer.from('From: a@example.com\r\nMessage-ID: <m1@example.com>\r\n\r\nhello\r\n'),
    imapUid: 7,
    messageId: '<m1@example.com>',
    subject: 'hello',
    sender: 'a@example.com',
    conversationCandidates: [],
    verdict: { action: 'accept', modelHint: null },
    ...overrides,
  };
}

test('an accepted mail becomes a queued task with its raw message, durably', () => {
  const { file } = tempDb();
  const db = openDatabase(file, { migrate: true });
  const out = acceptMail(db, mail());
  assert.equal(out.kind, 'queued');
  db.close();
  // A fresh connection (as after a restart) sees the task and the exact bytes.
  const db2 = openDatabase(file, { migrate: true });
  const t = getTask(db2, out.taskId);
  assert.equal(t?.status, 'queued');
  assert.equal(t?.repoId, 'api');
  assert.equal(t?.sender, 'a@example.com');
  assert.equal(getTaskRawMessage(db2, out.taskId)?.toString(), mail().raw.toString());
  assert.equal(db2.pragma('user_version', { simple: true }), SCHEMA_VERSION);
});

test('the same bytes twice are one task (re-fetch after a crash)', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const a = acceptMail(db, mail());
  const b = acceptMail(db, mail());
  assert.equal(b.kind, 'duplicate');
  assert.equal(b.taskId, a.taskId);
  assert.equal(listTasks(db).length, 1);
});

test('the same Message-ID with other bytes (second delivery) is a duplicate', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const a = acceptMail(db, mail());
  const b = acceptMail(db, mail({ raw: Buffer.from('Received: x\r\n' + mail().raw.toString()) }));
  assert.deepEqual(b, { kind: 'duplicate', taskId: a.taskId });
});

test('a rejected spoof reusing a Message-ID does not block the genuine mail', () => {
  const db = openDatabase(':memory:', { migrate: true });
  const spoof = acceptMail(
    db,
    mail({ raw: Buffer.from('spoof'), verdict: { action: 'reject', reason: 'auth_failed', detail: 'dmarc=fail' } }),
  );
  assert.equal(spoof.kind, 'rejected');
  const genuine = acceptMail(db, mail());
  assert.equal(genuine.kind, 'queued');
  assert.equal(getTask(db, spoof.taskId)?.reason, 'auth_failed');
  assert.notEqual(getTask(db, spoof.taskId)?.finishedAt, null);
});

test('Message-IDs are scoped per repo; mail without one is keyed by its bytes', () => {
  const db = openDatabase(':memory:', { migrate: true });
  assert.equal(acceptMail(db, mail()).kind, 'queued');
  assert.equal(acceptMail(db, mail({ repoId: 'web' })).kind, 'queued');
  const noId = mail({ messageId: null, raw: Buffer.from('no id here') });
  assert.equal(acceptMail(db, noId).kind, 'queued');
  assert.equal(acceptMail(db, noId).kind, 'duplicate');
  assert.equal(acceptMail(db, mail({ messageId: null, raw: Buffer.from('other') })).kind, 'queued');
});

test('listTasks paginates newest first by id cursor and filters', () => {
  const db = openDatabase(':memory:', { migrate: true });
  for (let i = 0; i < 5; i++) {
    acceptMail(db, mail({ repoId: i % 2 ? 'web' : 'api', messageId: `<m${i}@x>`, raw: Buffer.from(`m${i}`) }));
  }
  const page1 = listTasks(db, { limit: 2 });
  assert.deepEqual(page1.map((t) => t.id), [5, 4]);
  const page2 = listTasks(db, { limit: 2, beforeId: 4 });
  assert.deepEqual(page2.map((t) => t.id), [3, 2]);
  assert.deepEqual(listTasks(db, { repoId: 'web' }).map((t) => t.id), [4, 2]);
});
