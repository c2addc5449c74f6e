/** Stages 1, 2 and 4 for a run that answers several mails: coalesced follow-ups, and a paused run resumed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { agentStage } from '../../../src/runner/stages/agent.ts';
import { conversationStage } from '../../../src/runner/stages/conversation.ts';
import { repoInputsStage } from '../../../src/runner/stages/repo-inputs.ts';
import type { HandledMail } from '../../../src/runner/handled-mails.ts';
import { buildPrompt, mailBlock } from '../../../src/runner/prompt.ts';
import { buildMail } from '../../harness/mail-builder.ts';
import { fakeContext, taskRow } from './fake-context.ts';

function followUp(taskId: number, sender: string, receivedAt: number, bodyText: string, attachment?: string): HandledMail {
  const raw = Buffer.from(
    buildMail({
      from: sender,
      to: 'api-bot@repo.example',
      subject: 'Re: Fix the build',
      text: bodyText,
      messageId: `<f${taskId}@example.com>`,
      attachments: attachment ? [{ filename: attachment, content: `content of ${attachment}` }] : [],
    }),
  );
  return { taskId, sender, senderLine: sender, receivedAt, bodyText, raw, inbound: { sender, subject: 'Re: Fix the build', messageId: `<f${taskId}@example.com>`, references: [] } };
}

test('prompt: one Airut block per mail, with sender and UTC time; the paused note comes first', () => {
  assert.equal(mailBlock({ from: 'a@example.com', receivedAt: Date.UTC(2026, 11, 3, 9, 5, 7, 123), body: '  hi\n' }), '[a@example.com 2026-12-03 09:05:07 UTC]\nhi');
  const p = buildPrompt({
    isNewConversation: false,
    subject: 's',
    attachments: ['a.txt'],
    resumedAfterRestart: false,
    resumedAfterPause: true,
    mails: [
      { from: 'a@example.com', receivedAt: 0, body: 'one' },
      { from: 'b@example.com', receivedAt: 1000, body: 'two' },
    ],
  });
  assert.match(p, /^User is interacting with this session via email interface[^]*\n\nYour previous run of this conversation was paused because the Claude API failed repeatedly/);
  assert.match(p, /\[a@example.com 1970-01-01 00:00:00 UTC\]\none\n\n\[b@example.com 1970-01-01 00:00:01 UTC\]\ntwo/);
  assert.match(p, /The user has attached files to their message, which I have saved to \/inbox\/: a.txt\./);
});

test('coalesced follow-ups: every mail is a block of the prompt and every attachment is in inbox/', async () => {
  const coalesced = [followUp(8, 'bob@example.com', 2000, 'also the docs', 'notes.txt'), followUp(9, 'carol@example.com', 3000, 'and the tests', 'notes.txt')];
  const ctx = fakeContext({ task: taskRow({ sender: 'alice@example.com', createdAt: 1000 }), senderLine: 'alice@example.com', isFirstTask: false, coalesced });
  const inputs = await repoInputsStage(ctx);
  const conversation = await conversationStage(ctx, inputs);
  assert.deepEqual(conversation.attachments, ['notes.txt', 'notes-1.txt']);
  assert.equal(fs.readFileSync(path.join(conversation.paths.inbox, 'notes-1.txt'), 'utf8'), 'content of notes.txt');
  // Each mail's files are kept for the dashboard under the task whose mail carried them.
  assert.deepEqual(ctx.files.mail, [{ taskId: 7, names: [] }, { taskId: 8, names: ['notes.txt'] }, { taskId: 9, names: ['notes-1.txt'] }]);
  await agentStage(ctx, inputs, conversation, 'airut-api:1');
  const prompt = ctx.backend.runs[0]!.prompt;
  assert.match(prompt, /\[alice@example.com 1970-01-01 00:00:01 UTC\]\nPlease fix the build\.\n\n\[bob@example.com 1970-01-01 00:00:02 UTC\]\nalso the docs\n\n\[carol@example.com 1970-01-01 00:00:03 UTC\]\nand the tests/);
});

test("a resumed paused run: its own mail is not repeated; the new mails follow the note; an empty own body is no error", async () => {
  const ctx = fakeContext({ isFirstTask: false, bodyText: '', resumedFromPause: true, coalesced: [followUp(8, 'bob@example.com', 2000, 'go on')] });
  const inputs = await repoInputsStage(ctx);
  const conversation = await conversationStage(ctx, inputs);
  assert.deepEqual(conversation.attachments, []);
  await agentStage(ctx, inputs, conversation, 'airut-api:1');
  const prompt = ctx.backend.runs[0]!.prompt;
  assert.match(prompt, /was paused because the Claude API failed repeatedly[\s\S]*\[bob@example.com 1970-01-01 00:00:02 UTC\]\ngo on/);
  assert.doesNotMatch(prompt, /Please fix the build/);
});

test('coalesced follow-ups without any text still get the empty-mail explanation', async () => {
  const ctx = fakeContext({ isFirstTask: false, bodyText: '', coalesced: [followUp(8, 'bob@example.com', 2000, '   ')] });
  await assert.rejects(repoInputsStage(ctx), { code: 'MAIL_EMPTY' });
});
