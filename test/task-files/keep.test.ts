/** Keeping a task's files for the dashboard: the cap, names that are no paths, copies of what was checked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConversationStore } from '../../src/conversation/index.ts';
import { DEFAULT_TASK_OUTPUT_LIMITS } from '../../src/config/defaults.ts';
import { openOutboxAttachments } from '../../src/runner/outbox-attachments.ts';
import { taskFiles } from '../../src/runner/kept-files.ts';
import { listTaskFiles } from '../../src/store/task-content.ts';
import { keepTaskFile, OVER_CAP_NOTE, type KeepTarget } from '../../src/task-files/keep.ts';
import { insertTask, silentLog, tempDb } from '../dashboard/helpers.ts';

const CID = 'c0ffee01';

async function setup(capBytes = 1000) {
  const { db, dir, cleanup } = tempDb();
  const storageDir = path.join(dir, 'storage');
  const conversations = new ConversationStore(storageDir);
  await conversations.create(CID, { repoId: 'alpha', model: 'sonnet' });
  const taskId = insertTask(db, { conversationId: CID, status: 'running' });
  const target: KeepTarget = { db, storageDir, conversationId: CID, capBytes, log: silentLog() };
  return { db, storageDir, conversations, taskId, target, cleanup };
}

const bytes = (s: string) => ({ kind: 'bytes', data: Buffer.from(s) }) as const;
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

test('a kept file: a copy under the task, its sha256, the name as sent; the path is random, not the name', async (t) => {
  const s = await setup();
  t.after(s.cleanup);
  for (const name of ['a "quoted"\r\nname.txt', '../../etc/passwd', '/abs/x.txt']) {
    await keepTaskFile(s.target, { taskId: s.taskId, direction: 'in', name, contentType: 'text/plain', content: bytes(`of ${name}`) });
  }
  const files = listTaskFiles(s.db, s.taskId);
  assert.deepEqual(files.map((f) => f.name), ['a "quoted"\r\nname.txt', '../../etc/passwd', '/abs/x.txt']);
  for (const f of files) {
    assert.match(f.path!, new RegExp(`^conversations/${CID}/task-files/${s.taskId}/[0-9a-f]{32}$`));
    assert.equal(fs.readFileSync(path.join(s.storageDir, f.path!), 'utf8'), `of ${f.name}`);
    assert.equal(f.sha256, sha(`of ${f.name}`));
    assert.equal(f.note, null);
  }
  assert.deepEqual(fs.readdirSync(path.join(s.storageDir, 'conversations', CID, 'task-files', String(s.taskId))).filter((n) => n.endsWith('.part')), []);
});

test('the cap: a file that would go over is recorded as not kept, with why; the next one that fits is kept; 0 keeps none', async (t) => {
  const s = await setup(10);
  t.after(s.cleanup);
  const keep = (name: string, text: string) => keepTaskFile(s.target, { taskId: s.taskId, direction: 'out', name, contentType: 'text/plain', content: bytes(text) });
  await keep('six', '123456');
  await keep('five', '12345');
  await keep('four', '1234');
  const files = listTaskFiles(s.db, s.taskId);
  assert.deepEqual(files.map((f) => [f.name, f.size, f.path !== null, f.note]), [['six', 6, true, null], ['five', 5, false, OVER_CAP_NOTE], ['four', 4, true, null]]);
  assert.equal(files[1]!.sha256, null);

  const none = await setup(0);
  t.after(none.cleanup);
  await keepTaskFile(none.target, { taskId: none.taskId, direction: 'in', name: 'x', contentType: 'text/plain', content: bytes('x') });
  await keepTaskFile(none.target, { taskId: none.taskId, direction: 'in', name: 'empty', contentType: 'text/plain', content: bytes('') });
  assert.deepEqual(listTaskFiles(none.db, none.taskId).map((f) => [f.path, f.note]), [[null, OVER_CAP_NOTE], [null, OVER_CAP_NOTE]]);
  assert.equal(fs.existsSync(path.join(none.storageDir, 'conversations', CID, 'task-files')), false, 'nothing written');
});

test('from an open outbox handle: never more than the checked size, even when the file grew since', async (t) => {
  const s = await setup(1 << 20);
  t.after(s.cleanup);
  const file = path.join(s.conversations.paths(CID).outbox, 'grows.txt');
  fs.writeFileSync(file, 'checked');
  const opened = await s.conversations.openOutboxFile(CID, 'grows.txt');
  t.after(() => opened.handle.close());
  fs.appendFileSync(file, ' and then some');
  await keepTaskFile(s.target, { taskId: s.taskId, direction: 'out', name: 'grows.txt', contentType: 'text/plain', content: { kind: 'handle', handle: opened.handle, size: opened.size } });
  const [f] = listTaskFiles(s.db, s.taskId);
  assert.equal(fs.readFileSync(path.join(s.storageDir, f!.path!), 'utf8'), 'checked');
  assert.deepEqual([f!.size, f!.sha256], [7, sha('checked')]);
});

test('a sparse 10 GiB outbox file is neither attached nor copied; a symlink in outbox/ is not followed', async (t) => {
  const s = await setup(DEFAULT_TASK_OUTPUT_LIMITS.maxKeptFileBytesPerTask);
  t.after(s.cleanup);
  const outbox = s.conversations.paths(CID).outbox;
  const secret = path.join(s.storageDir, 'secret.txt');
  fs.writeFileSync(secret, 'do not send');
  fs.symlinkSync(secret, path.join(outbox, 'link.txt'));
  const fd = fs.openSync(path.join(outbox, 'huge.bin'), 'w');
  fs.ftruncateSync(fd, 10 * 2 ** 30);
  fs.closeSync(fd);
  fs.writeFileSync(path.join(outbox, 'ok.txt'), 'fine');
  const outboxFiles = await openOutboxAttachments(s.conversations, CID, DEFAULT_TASK_OUTPUT_LIMITS);
  t.after(() => outboxFiles.close());
  assert.deepEqual(outboxFiles.files.map((f) => f.name), ['ok.txt']);
  await taskFiles(s.target).keepSentFiles(s.taskId, outboxFiles.files);
  assert.deepEqual(listTaskFiles(s.db, s.taskId).map((f) => [f.direction, f.name, f.size]), [['out', 'ok.txt', 4]]);

  // Handed one anyway, the cap refuses it before a byte is read.
  const huge = await s.conversations.openOutboxFile(CID, 'huge.bin');
  t.after(() => huge.handle.close());
  await keepTaskFile(s.target, { taskId: s.taskId, direction: 'out', name: 'huge.bin', contentType: 'application/octet-stream', content: { kind: 'handle', handle: huge.handle, size: huge.size } });
  const last = listTaskFiles(s.db, s.taskId).at(-1)!;
  assert.deepEqual([last.name, last.size, last.path, last.note], ['huge.bin', 10 * 2 ** 30, null, OVER_CAP_NOTE]);
  assert.equal(fs.readdirSync(path.join(s.storageDir, 'conversations', CID, 'task-files', String(s.taskId))).length, 1);
});

test("a mail's files are kept once: a re-run after a crash saves them again but keeps nothing twice", async (t) => {
  const s = await setup();
  t.after(s.cleanup);
  const files = taskFiles(s.target);
  const saved = [{ sentName: 'log.txt', savedName: 'log.txt', size: 3, contentType: 'text/plain', content: Buffer.from('abc') }];
  await files.keepMailFiles(s.taskId, saved);
  await files.keepMailFiles(s.taskId, saved);
  assert.deepEqual(listTaskFiles(s.db, s.taskId).map((f) => f.name), ['log.txt']);
});

test('a copy that cannot be written is recorded as not kept, with the reason; the task goes on', async (t) => {
  const s = await setup();
  t.after(s.cleanup);
  // Where the task's directory would be, a file: mkdir fails.
  fs.mkdirSync(path.join(s.storageDir, 'conversations', CID, 'task-files'));
  fs.writeFileSync(path.join(s.storageDir, 'conversations', CID, 'task-files', String(s.taskId)), '');
  await keepTaskFile(s.target, { taskId: s.taskId, direction: 'in', name: 'x.txt', contentType: 'text/plain', content: bytes('x') });
  const [f] = listTaskFiles(s.db, s.taskId);
  assert.deepEqual([f!.path, f!.note], [null, 'could not be kept (EEXIST)']);
});
