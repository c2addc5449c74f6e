import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/database.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { listConversationRepos, saveConversationRepos, taskRequestedRepos, type ConversationRepo } from '../../src/store/conversation-repos.ts';

function db() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-convrepos-'));
  return openDatabase(path.join(dir, 'airut.db'), { migrate: true });
}

const base = {
  repoId: 'app',
  imapUid: 1,
  subject: 's',
  sender: 'a@example.com',
  conversationCandidates: [],
  verdict: { action: 'accept', modelHint: null },
} as const;

test('a task records the companions it asked for; a task that asked for none records nothing', () => {
  const d = db();
  const asked = acceptMail(d, { ...base, raw: Buffer.from('one'), messageId: '<1@x>', requestedRepos: [{ name: 'docs', access: 'read' }, { name: 'lib', branch: 'v2' }] });
  const plain = acceptMail(d, { ...base, raw: Buffer.from('two'), messageId: '<2@x>' });
  assert.deepEqual(taskRequestedRepos(d, asked.taskId), [{ name: 'docs', access: 'read' }, { name: 'lib', branch: 'v2' }]);
  assert.deepEqual(taskRequestedRepos(d, plain.taskId), []);
});

test('a conversation keeps one row per repository, primary first; saving again replaces the set', () => {
  const d = db();
  const set: ConversationRepo[] = [
    { name: 'lib', access: 'write', branch: 'v2', primary: false },
    { name: 'app', access: 'write', branch: null, primary: true },
    { name: 'docs', access: 'read', branch: null, primary: false },
  ];
  saveConversationRepos(d, 'app', 'c1', set);
  assert.deepEqual(listConversationRepos(d, 'app', 'c1').map((r) => r.name), ['app', 'docs', 'lib']);
  assert.deepEqual(listConversationRepos(d, 'app', 'c1')[2], set[0]);
  saveConversationRepos(d, 'app', 'c1', set.slice(1));
  assert.deepEqual(listConversationRepos(d, 'app', 'c1').map((r) => r.name), ['app', 'docs']);
  assert.deepEqual(listConversationRepos(d, 'app', 'c2'), [], 'another conversation has none');
  assert.deepEqual(listConversationRepos(d, 'other', 'c1'), [], 'another repository has none');
});

test('a mount name appears once per conversation, and access is read or write only', () => {
  const d = db();
  assert.throws(() => saveConversationRepos(d, 'app', 'c1', [
    { name: 'docs', access: 'read', branch: null, primary: false },
    { name: 'docs', access: 'write', branch: null, primary: false },
  ]), /UNIQUE/);
  assert.deepEqual(listConversationRepos(d, 'app', 'c1'), [], 'the failed save left nothing');
  assert.throws(() => saveConversationRepos(d, 'app', 'c1', [{ name: 'docs', access: 'admin' as never, branch: null, primary: false }]), /CHECK/);
});
