/** Live follow-ups on the runner side, with a real database and conversation store; the agent's input is a recorder. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { claimNextTask } from '../../src/store/task-queue.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { getTaskRequest } from '../../src/store/task-content.ts';
import { ConversationStore } from '../../src/conversation/index.ts';
import { LiveFollowUps } from '../../src/runner/live-follow-ups.ts';
import { taskFiles } from '../../src/runner/kept-files.ts';
import { listTaskFiles } from '../../src/store/task-content.ts';
import { buildMail } from '../harness/mail-builder.ts';

let n = 0;
function enqueue(db: Db, text: string, refs: string[] = [], attachments: Array<{ filename: string; content: string }> = []): number {
  n += 1;
  const raw = Buffer.from(buildMail({ from: 'bob@example.com', to: 'bot@repo.example', subject: 'Re: x', text, messageId: `<live${n}@x>`, attachments }));
  return acceptMail(db, { repoId: 'api', raw, imapUid: n, messageId: `<live${n}@x>`, subject: 'Re: x', sender: 'bob@example.com', conversationCandidates: refs, verdict: { action: 'accept', modelHint: null } }).taskId;
}

async function setup() {
  const db = openDatabase(':memory:', { migrate: true });
  enqueue(db, 'first');
  const claim = claimNextTask(db)!;
  const conversations = new ConversationStore(fs.mkdtempSync(path.join(os.tmpdir(), 'airut-live-')));
  await conversations.create(claim.conversationId, { repoId: 'api', model: 'sonnet', subject: 'x' });
  const changed: number[] = [];
  const log = pino({ level: 'silent' });
  const files = taskFiles({ db, storageDir: conversations.storageDir, conversationId: claim.conversationId, capBytes: 1 << 20, log });
  const live = new LiveFollowUps({ db, taskId: claim.task.id, conversationId: claim.conversationId, conversations, files, log, onTaskChanged: (id) => changed.push(id) });
  const sent: string[] = [];
  let open = true;
  const input = { send: (t: string) => (open ? (sent.push(t), true) : false), isOpen: () => open, close: () => (open = false) };
  return { db, claim, conversations, live, changed, sent, input };
}

test('a follow-up offered while the input is open: attachments saved, merged live, then sent with sender, time and file names', async () => {
  const s = await setup();
  s.live.attach(s.input);
  const f = enqueue(s.db, 'also check egrets', [s.claim.conversationId], [{ filename: 'egret.txt', content: 'white' }]);
  assert.equal(await s.live.offer(f), true);
  const row = getTask(s.db, f)!;
  assert.deepEqual([row.status, row.mergedInto, row.mergeKind, row.conversationId], ['merged', s.claim.task.id, 'live', s.claim.conversationId]);
  assert.equal(s.sent.length, 1);
  assert.match(s.sent[0]!, /\[bob@example.com \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\]\nalso check egrets/);
  assert.match(s.sent[0]!, /in \/inbox\/: egret.txt/);
  assert.equal(fs.readFileSync(path.join(s.conversations.paths(s.claim.conversationId).inbox, 'egret.txt'), 'utf8'), 'white');
  assert.deepEqual(s.changed, [f]);
  const kept = listTaskFiles(s.db, f);
  assert.deepEqual(kept.map((k) => [k.direction, k.name, k.size]), [['in', 'egret.txt', 5]], 'kept for the dashboard under the follow-up');
  assert.equal(fs.readFileSync(path.join(s.conversations.storageDir, kept[0]!.path!), 'utf8'), 'white');
  assert.deepEqual(getTaskRequest(s.db, f), { text: 'also check egrets', original: 'also check egrets' }, 'its request, under its own task id');
  assert.equal(await s.live.offer(f), false, 'a mail is taken once');
});

test('declined, and left queued, when no run is attached or its input has closed, or the mail has no text', async () => {
  const s = await setup();
  const f = enqueue(s.db, 'too early', [s.claim.conversationId]);
  assert.equal(await s.live.offer(f), false, 'between sessions (no run attached)');
  s.live.attach(s.input);
  const empty = enqueue(s.db, '   ', [s.claim.conversationId]);
  assert.equal(await s.live.offer(empty), false, 'an empty mail is left for the empty-mail reply');
  s.input.close();
  assert.equal(await s.live.offer(f), false, 'input closed');
  for (const id of [f, empty]) assert.equal(getTask(s.db, id)!.status, 'queued');
  for (const id of [f, empty]) assert.equal(getTaskRequest(s.db, id), null, 'a declined mail is recorded by the run that takes it');
  assert.deepEqual(s.sent, []);
});

test('the reply covers every turn: each answer after a line naming the follow-ups its turn took', async () => {
  const s = await setup();
  s.live.attach(s.input);
  const result = (text: string) => ({ type: 'result', subtype: 'success', isError: false, result: text, sessionId: 's', costUsd: 0, turns: 1, durationMs: 1, terminalReason: null, apiErrorStatus: null, apiErrorType: null, apiError: null }) as const;
  s.live.observe({ type: 'input_echo', messages: 1 });
  assert.equal(await s.live.offer(enqueue(s.db, 'one', [s.claim.conversationId])), true);
  assert.equal(await s.live.offer(enqueue(s.db, 'two', [s.claim.conversationId])), true);
  s.live.observe(result('first answer'));
  assert.equal(s.live.replyText(), null, 'no turn took a follow-up yet');
  s.live.observe({ type: 'input_echo', messages: 2 });
  s.live.observe(result('answer to both'));
  const text = s.live.replyText()!;
  assert.match(text, /^first answer\n\n---\n\n\*\*Follow-up from bob@example.com \([^)]+ UTC\):\*\*\n\*\*Follow-up from bob@example.com \([^)]+\):\*\*\n\nanswer to both$/);
});
