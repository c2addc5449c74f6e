import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseModel } from '../../src/runner/model.ts';
import { buildPrompt } from '../../src/runner/prompt.ts';

test('model: +alias picks an alias or an allowed full name; anything else falls back to the repo default', () => {
  const allowed = ['claude-opus-4-1-20250805'];
  assert.deepEqual(chooseModel(null, 'sonnet', allowed), { model: 'sonnet', ignoredHint: null });
  assert.deepEqual(chooseModel('opus', 'sonnet', allowed), { model: 'opus', ignoredHint: null });
  assert.deepEqual(chooseModel('HAIKU', 'sonnet', allowed), { model: 'haiku', ignoredHint: null });
  assert.deepEqual(chooseModel('claude-opus-4-1-20250805', 'sonnet', allowed), { model: 'claude-opus-4-1-20250805', ignoredHint: null });
  assert.deepEqual(chooseModel('gpt-5', 'sonnet', allowed), { model: 'sonnet', ignoredHint: 'gpt-5' });
});

test('prompt: a new conversation carries the subject; a follow-up does not; attachments and outbox are explained', () => {
  const first = buildPrompt({ isNewConversation: true, subject: 'Fix the bug', body: 'in parser.ts', attachments: ['log.txt'], resumedAfterRestart: false });
  assert.match(first, /Subject: Fix the bug/);
  assert.match(first, /in parser\.ts/);
  assert.match(first, /\/inbox\/: log\.txt/);
  assert.match(first, /\/outbox\//);
  const followUp = buildPrompt({ isNewConversation: false, subject: 'Fix the bug', body: 'thanks, now tests', attachments: [], resumedAfterRestart: false });
  assert.doesNotMatch(followUp, /Subject:/);
  assert.doesNotMatch(followUp, /\/inbox\//);
});

test('prompt: a resumed run says so; a fresh session after prompt-too-long carries the summary and the subject', () => {
  const resumed = buildPrompt({ isNewConversation: false, subject: 's', body: 'go on', attachments: [], resumedAfterRestart: true });
  assert.match(resumed, /interrupted by a restart/);
  const fresh = buildPrompt({
    isNewConversation: false,
    subject: 'Big refactor',
    body: 'next step',
    attachments: [],
    resumedAfterRestart: false,
    summaryOfEarlierSession: '- The conversation started with the subject: Big refactor',
  });
  assert.match(fresh, /fresh session/);
  assert.match(fresh, /Subject: Big refactor/);
  assert.match(fresh, /\/workspace/);
});
