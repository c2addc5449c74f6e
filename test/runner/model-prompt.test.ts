import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseModel } from '../../src/runner/model.ts';
import { buildPrompt, CHANNEL_CONTEXT } from '../../src/runner/prompt.ts';

test('model: +alias picks an alias or an allowed full name; anything else falls back to the repo default', () => {
  const allowed = ['claude-opus-4-1-20250805'];
  assert.deepEqual(chooseModel(null, 'sonnet', allowed), { model: 'sonnet', ignoredHint: null });
  assert.deepEqual(chooseModel('opus', 'sonnet', allowed), { model: 'opus', ignoredHint: null });
  assert.deepEqual(chooseModel('HAIKU', 'sonnet', allowed), { model: 'haiku', ignoredHint: null });
  assert.deepEqual(chooseModel('claude-opus-4-1-20250805', 'sonnet', allowed), { model: 'claude-opus-4-1-20250805', ignoredHint: null });
  assert.deepEqual(chooseModel('gpt-5', 'sonnet', allowed), { model: 'sonnet', ignoredHint: 'gpt-5' });
});

const mail = (body: string) => [{ from: 'Alice <alice@example.com>', receivedAt: Date.UTC(2026, 11, 3, 14, 5, 9), body }];

test("prompt: Airut's channel context first, naming /workspace, /inbox, /storage and /outbox; then the subject of a new conversation, the attachments and the mail block", () => {
  const first = buildPrompt({ isNewConversation: true, subject: 'Fix the bug', attachments: ['log.txt', 'a.png'], resumedAfterRestart: false, mails: mail('in parser.ts') });
  assert.ok(first.startsWith(CHANNEL_CONTEXT), 'the channel context opens the prompt');
  assert.match(CHANNEL_CONTEXT, /everything not in \/workspace, \/inbox, and \/storage is reset/);
  assert.match(CHANNEL_CONTEXT, /Use \/storage to persist files across messages\./);
  assert.match(CHANNEL_CONTEXT, /\/outbox directory root \(no subdirectories\)/);
  assert.match(CHANNEL_CONTEXT, /AskUserQuestion and plan mode tools/);
  assert.equal(
    first.slice(CHANNEL_CONTEXT.length),
    '\n\nSubject: Fix the bug The user has attached files to their message, which I have saved to /inbox/: log.txt, a.png.' +
      '\n\n[Alice <alice@example.com> 2026-12-03 14:05:09 UTC]\nin parser.ts\n',
  );
  const followUp = buildPrompt({ isNewConversation: false, subject: 'Fix the bug', attachments: [], resumedAfterRestart: false, mails: mail('thanks, now tests') });
  assert.doesNotMatch(followUp, /Subject:/);
  assert.doesNotMatch(followUp, /saved to \/inbox\//);
  assert.equal(followUp, `${CHANNEL_CONTEXT}\n\n[Alice <alice@example.com> 2026-12-03 14:05:09 UTC]\nthanks, now tests\n`);
});

test('prompt: a resumed run says so; a fresh session after prompt-too-long carries the summary and the subject, before the mail', () => {
  const resumed = buildPrompt({ isNewConversation: false, subject: 's', attachments: [], resumedAfterRestart: true, mails: mail('go on') });
  assert.match(resumed, /interrupted by a restart[^]*\[Alice <alice@example.com> [^\]]+\]\ngo on\n$/);
  const fresh = buildPrompt({
    isNewConversation: false,
    subject: 'Big refactor',
    attachments: [],
    resumedAfterRestart: false,
    summaryOfEarlierSession: '- The conversation started with the subject: Big refactor',
    mails: mail('next step'),
  });
  assert.ok(fresh.startsWith(`${CHANNEL_CONTEXT}\n\nSubject: Big refactor\n\n`));
  assert.match(fresh, /fresh session[^]*Summary of the earlier session[^]*\/workspace[^]*next step\n$/);
});
