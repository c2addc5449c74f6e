/**
 * Tasks submitted over the API, in the store: the conversation assigned at acceptance and started by
 * the claim, a follow-up threaded into it, the result text kept for every reply, and no mail ever
 * queued to the API's own sender.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { ApiSubmission, IncomingMail } from '../../src/protocol/incoming-mail.ts';
import { apiSenderAddress, isApiSender } from '../../src/reply/api-sender.ts';
import { inboundMailOf } from '../../src/reply/inbound-mail.ts';
import { queueReply } from '../../src/reply/queue-reply.ts';
import { acceptMail } from '../../src/store/accept.ts';
import { conversationContinuable, getApiTask } from '../../src/store/api-tasks.ts';
import { conversationThread } from '../../src/store/conversation-thread.ts';
import { openDatabase, type Db } from '../../src/store/database.ts';
import { listMailForTask } from '../../src/store/outgoing-mail.ts';
import { getTask } from '../../src/store/task-queries.ts';
import { claimNextTask, finishTask } from '../../src/store/task-queue.ts';
import { getTaskResult } from '../../src/store/task-results.ts';
import { testRepoServerConfig } from '../harness/repo-server-config.ts';

let seq = 0;
function apiMail(sender: string, api: Partial<ApiSubmission> = {}, candidates: string[] = []): IncomingMail {
  seq++;
  return {
    repoId: 'r',
    raw: Buffer.from(`From: ${sender}\r\nSubject: s${seq}\r\nMessage-ID: <api.${seq}@example.com>\r\n\r\nprompt ${seq}\r\n`),
    imapUid: null,
    messageId: `<api.${seq}@example.com>`,
    subject: `s${seq}`,
    sender,
    conversationCandidates: candidates,
    verdict: { action: 'accept', modelHint: null },
    api: { token: 'team-a', replyTo: null, newConversation: true, effort: 'low', budgetUsd: 1.5, ...api },
  };
}

function setup(): { db: Db; storage: string; repo: ReturnType<typeof testRepoServerConfig> } {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-api-tasks-'));
  return { db: openDatabase(':memory:', { migrate: true }), storage, repo: testRepoServerConfig('r', { storageDir: storage }) };
}

describe('api tasks in the store', () => {
  it('names the API sender by token, in the reserved .invalid domain', () => {
    assert.equal(apiSenderAddress(null), 'api+admin@airut.invalid');
    assert.equal(apiSenderAddress('Team A/ci'), 'api+team-a-ci@airut.invalid');
    assert.ok(isApiSender('API+x@Airut.Invalid'));
    assert.ok(!isApiSender('alice@example.com'));
  });

  it('assigns a new conversation at acceptance; the claim starts it; a follow-up joins it after', () => {
    const { db } = setup();
    const first = acceptMail(db, apiMail(apiSenderAddress('team-a')));
    assert.equal(first.kind, 'queued');
    const row = getTask(db, first.taskId)!;
    assert.match(row.conversationId!, /^[0-9a-f]{8}$/);
    assert.equal(row.effort, 'low');
    assert.deepEqual(getApiTask(db, first.taskId), { taskId: first.taskId, token: 'team-a', replyTo: null, newConversation: true, budgetUsd: 1.5 });
    const follow = acceptMail(db, apiMail(apiSenderAddress('team-a'), { newConversation: false, effort: 'max' }, [row.conversationId!]));
    assert.equal(getTask(db, follow.taskId)!.conversationId, null, 'a follow-up is resolved by the claim, like a mail reply');
    assert.equal(getTask(db, follow.taskId)!.effort, null, 'a follow-up keeps the conversation\'s effort');

    const claim = claimNextTask(db)!;
    assert.equal(claim.task.id, first.taskId);
    assert.equal(claim.conversationId, row.conversationId);
    assert.equal(claim.isNewConversation, true);
    assert.equal(claimNextTask(db), null, 'the follow-up waits for the running task of its conversation');
    finishTask(db, first.taskId, { status: 'running', attempt: 1 }, { status: 'completed' });
    const next = claimNextTask(db)!;
    assert.equal(next.task.id, follow.taskId);
    assert.equal(next.conversationId, row.conversationId);
    assert.equal(next.isNewConversation, false);
  });

  it('lets a message join a conversation that began, not one whose only task left the queue unrun', () => {
    const { db } = setup();
    const first = acceptMail(db, apiMail(apiSenderAddress(null)));
    const conv = getTask(db, first.taskId)!.conversationId!;
    assert.equal(conversationContinuable(db, 'r', conv), true, 'queued: it will begin');
    db.prepare(`UPDATE tasks SET status = 'cancelled' WHERE id = ?`).run(first.taskId);
    assert.equal(conversationContinuable(db, 'r', conv), false);
    db.prepare(`UPDATE tasks SET started_at = 1 WHERE id = ?`).run(first.taskId);
    assert.equal(conversationContinuable(db, 'r', conv), true, 'it ran before it was stopped');
    assert.equal(conversationContinuable(db, 'r', 'ffffffff'), false);
  });

  it('assigns no conversation to a refused task', () => {
    const { db } = setup();
    const out = acceptMail(db, { ...apiMail(apiSenderAddress(null)), verdict: { action: 'reject', reason: 'rate_limited', detail: 'Rate limited' } });
    assert.equal(out.kind, 'rejected');
    assert.equal(getTask(db, out.taskId)!.conversationId, null);
    assert.equal(getApiTask(db, out.taskId)!.newConversation, false);
  });

  it('keeps the result of every reply, and queues no mail to the API sender', async () => {
    const { db, repo, storage } = setup();
    try {
      const apiTask = acceptMail(db, apiMail(apiSenderAddress(null))).taskId;
      const mailTask = acceptMail(db, apiMail('alice@example.com', { replyTo: 'alice@example.com' })).taskId;
      for (const [taskId, sender] of [[apiTask, apiSenderAddress(null)], [mailTask, 'alice@example.com']] as const) {
        const inbound = inboundMailOf(sender, { subject: 's', messageId: '<m@example.com>' });
        await queueReply(db, repo, { inReplyTo: inbound, conversationId: 'abcd0123', body: { kind: 'ack' } }, () => ({ queue: true, taskId, value: undefined }));
        await queueReply(db, repo, { inReplyTo: inbound, conversationId: 'abcd0123', body: { kind: 'reply', markdown: 'All **done**.' } }, () => ({ queue: true, taskId, value: undefined }));
        assert.deepEqual(getTaskResult(db, taskId), { text: 'All **done**.', isError: false });
      }
      assert.deepEqual(listMailForTask(db, apiTask), [], 'nothing is mailed to the API sender: no ack, no reply');
      assert.deepEqual(listMailForTask(db, mailTask).map((m) => m.kind), ['ack', 'reply']);
      await queueReply(db, repo, { inReplyTo: inboundMailOf(apiSenderAddress(null), { subject: 's', messageId: null }), conversationId: null, body: { kind: 'error', message: 'it broke' } }, () => ({ queue: true, taskId: apiTask, value: undefined }));
      assert.deepEqual(getTaskResult(db, apiTask), { text: 'it broke', isError: true });
    } finally {
      fs.rmSync(storage, { recursive: true, force: true });
    }
  });

  it('threads a follow-up to the conversation\'s newest message, first message first in References', () => {
    const { db } = setup();
    const first = acceptMail(db, apiMail(apiSenderAddress(null)));
    const conv = getTask(db, first.taskId)!.conversationId!;
    const thread = conversationThread(db, 'r', conv);
    assert.equal(thread.lastMessageId, getTask(db, first.taskId)!.messageId);
    assert.deepEqual(thread.references, [getTask(db, first.taskId)!.messageId]);
    assert.equal(thread.subject, getTask(db, first.taskId)!.subject);
    assert.deepEqual(conversationThread(db, 'r', 'ffffffff'), { lastMessageId: null, references: [], subject: '' });
  });
});
