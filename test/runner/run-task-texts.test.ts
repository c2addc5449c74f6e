/**
 * What a run leaves for the dashboard, through runTask on a real database, a real git mirror of a
 * real source repository and a fake execution backend (the agent's answer scripted): each mail's
 * request (its own and a coalesced follow-up's, each under its own task id) and each reply's body
 * as written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import pino from 'pino';
import type { RunnerToDispatcher } from '../../src/protocol/runner.ts';
import { runTask } from '../../src/runner/run-task.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { listMailForTask } from '../../src/store/outgoing-mail.ts';
import { getTaskRequest } from '../../src/store/task-content.ts';
import { claimNextTask, type ClaimedTask } from '../../src/store/task-queue.ts';
import { buildMail } from '../harness/mail-builder.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';
import { createSourceRepo } from '../harness/source-repo.ts';
import { ALLOWLIST, FakeBackend, fakeContext, success } from './stages/fake-context.ts';

let n = 0;
function send(db: Db, text: string, refs: string[] = []): number {
  n += 1;
  const messageId = `<texts${n}@example.com>`;
  const raw = Buffer.from(buildMail({ from: 'alice@example.com', to: 'api-bot@repo.example', subject: 'Count the herons', text, messageId }));
  return acceptMail(db, { repoId: 'api', raw, imapUid: n, messageId, subject: 'Count the herons', sender: 'alice@example.com', conversationCandidates: refs, verdict: { action: 'accept', modelHint: null } }).taskId;
}

async function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-run-texts-'));
  const source = await createSourceRepo('default_model: sonnet\ntimeout: 90\n', { '.airut/network-allowlist.yaml': ALLOWLIST });
  const repo = testRepoServerConfig('api', { storageDir: path.join(dir, 'storage'), gitRepoUrl: source.url });
  const db = openDatabase(path.join(dir, 'airut.db'), { migrate: true });
  const backend = new FakeBackend();
  const env = { db, backend, settings: { ...fakeContext().settings, databasePath: path.join(dir, 'airut.db') } };
  const run = async (claim: ClaimedTask, onMessage?: (m: RunnerToDispatcher) => void) => {
    const channel = new MessageChannel();
    if (onMessage) channel.port2.on('message', onMessage);
    try {
      const input = { taskId: claim.task.id, conversationId: claim.conversationId, isNewConversation: claim.isNewConversation, isResume: false, resumedFromPause: false, repo, port: channel.port1 };
      return await runTask(input, env, pino({ level: 'silent' }));
    } finally {
      // Lets the messages posted during the run arrive before the ports close.
      if (onMessage) await new Promise((r) => setTimeout(r, 50));
      channel.port1.close();
    }
  };
  return { db, backend, run };
}

test('a run records the request the agent read and the whole body, and every mail it queued keeps its body as written', async () => {
  const s = await setup();
  const first = send(s.db, 'Please count the herons.\n\nOn Mon, Bob wrote:\n> how many birds?');
  s.backend.outcomes = [success('There are **3** herons.')];
  const claim = claimNextTask(s.db)!;
  assert.deepEqual(await s.run(claim), { taskId: first, status: 'completed' });
  assert.deepEqual(getTaskRequest(s.db, first), {
    text: 'Please count the herons.',
    original: 'Please count the herons.\n\nOn Mon, Bob wrote:\n> how many birds?',
  });
  assert.match(s.backend.runs[0]!.prompt, /Please count the herons\./, 'the same text the agent read');
  const mails = listMailForTask(s.db, first);
  assert.deepEqual(mails.map((m) => m.kind), ['ack', 'reply']);
  assert.match(mails[0]!.bodyMarkdown!, /^Working on it — conversation /);
  assert.match(mails[1]!.bodyMarkdown!, /^There are \*\*3\*\* herons\.\n\n— Cost \$0\.5000 · 3 turns · 1s · model sonnet/);

  // Two follow-ups queued while nothing runs: the older one's run coalesces the newer one.
  const f1 = send(s.db, 'And the egrets?', [claim.conversationId]);
  const f2 = send(s.db, 'And the storks, too.\n> quoted', [claim.conversationId]);
  s.backend.outcomes = [{ kind: 'failed', error: 'the model gave up', sessionId: 'sess-1', exitCode: 1, costUsd: 0.1, promptTooLong: false, transient: null }];
  const next = claimNextTask(s.db)!;
  assert.deepEqual([next.task.id, next.coalesced], [f1, [f2]]);
  assert.deepEqual(await s.run(next), { taskId: f1, status: 'failed' });
  assert.deepEqual(getTaskRequest(s.db, f1), { text: 'And the egrets?', original: 'And the egrets?' });
  assert.deepEqual(getTaskRequest(s.db, f2), { text: 'And the storks, too.', original: 'And the storks, too.\n> quoted' }, 'the coalesced mail under its own id');
  const error = listMailForTask(s.db, f1);
  assert.deepEqual(error.map((m) => m.kind), ['error']);
  assert.equal(error[0]!.bodyMarkdown, 'Claude Code did not finish the task: the model gave up');
});

test('each mail is announced once it is committed, and the task ends only after the backend settled (the reply queued before that)', async () => {
  const s = await setup();
  const id = send(s.db, 'Count the gulls.');
  s.backend.outcomes = [success('Seven gulls.')];
  const atSettle: string[][] = [];
  const settle = s.backend.settle.bind(s.backend);
  s.backend.settle = async (taskId: number) => {
    atSettle.push(listMailForTask(s.db, taskId).map((m) => m.kind));
    return settle(taskId);
  };
  const announced: string[][] = [];
  const result = await s.run(claimNextTask(s.db)!, (m) => {
    if (m.type === 'mail-queued') announced.push(listMailForTask(s.db, m.taskId).map((mail) => mail.kind));
  });
  assert.deepEqual(result, { taskId: id, status: 'completed' });
  assert.deepEqual(s.backend.settled, [id]);
  assert.deepEqual(atSettle, [['ack', 'reply']], 'the reply was queued before the sandbox tidied up');
  // Each announcement finds its mail already in the outbox.
  assert.deepEqual(announced, [['ack'], ['ack', 'reply']]);
});
