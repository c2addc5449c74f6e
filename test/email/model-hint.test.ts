import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractModelHint, subAddressHint } from '../../src/email/model-hint.ts';

const none = { to: [], cc: [], deliveredTo: [], xOriginalTo: [] };

describe('model hint', () => {
  it('reads the sub-address of the repo address, lowercased', () => {
    assert.equal(subAddressHint('Bot+Opus@Example.com', 'bot@example.com'), 'opus');
    assert.equal(subAddressHint('bot+claude-sonnet-4-5@example.com', 'bot@example.com'), 'claude-sonnet-4-5');
  });
  it('ignores other addresses, other domains and empty hints', () => {
    assert.equal(subAddressHint('bot@example.com', 'bot@example.com'), null);
    assert.equal(subAddressHint('bot+opus@other.com', 'bot@example.com'), null);
    assert.equal(subAddressHint('robot+opus@example.com', 'bot@example.com'), null);
    assert.equal(subAddressHint('bot+@example.com', 'bot@example.com'), null);
    assert.equal(subAddressHint('botx+opus@example.com', 'bot@example.com'), null);
  });
  it('looks at To, then Cc, Delivered-To and X-Original-To', () => {
    assert.equal(extractModelHint({ ...none, to: ['alice@example.com', 'bot@example.com'], cc: ['bot+haiku@example.com'] }, 'bot@example.com'), 'haiku');
    assert.equal(extractModelHint({ ...none, to: ['bot+opus@example.com'], cc: ['bot+haiku@example.com'] }, 'bot@example.com'), 'opus');
    assert.equal(extractModelHint({ ...none, deliveredTo: ['bot+sonnet@example.com'] }, 'bot@example.com'), 'sonnet');
    assert.equal(extractModelHint({ ...none, xOriginalTo: ['bot+opus@example.com'] }, 'bot@example.com'), 'opus');
    assert.equal(extractModelHint({ ...none, to: ['bot@example.com'] }, 'bot@example.com'), null);
  });
  it('works when the repo address itself has a sub-address', () => {
    assert.equal(subAddressHint('me+airut+opus@example.com', 'me+airut@example.com'), 'opus');
  });
});
