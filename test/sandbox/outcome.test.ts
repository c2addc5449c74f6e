import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyOutcome, isPromptTooLong, type RunObservation } from '../../src/sandbox/outcome.ts';
import type { ResultEvent } from '../../src/sandbox/stream-json.ts';

const ok: ResultEvent = {
  type: 'result',
  subtype: 'success',
  isError: false,
  result: 'done',
  sessionId: 's-1',
  costUsd: 0.5,
  turns: 2,
  durationMs: 900,
};
const base: RunObservation = {
  exitCode: 0,
  result: ok,
  sessionId: 's-1',
  stderrTail: '',
  lastAssistantText: '',
  timedOut: false,
  cancelled: false,
};

test('exit 0 and is_error false is success', () => {
  assert.deepEqual(classifyOutcome(base), {
    kind: 'success',
    result: 'done',
    sessionId: 's-1',
    costUsd: 0.5,
    turns: 2,
    durationMs: 900,
  });
});

test('failures: is_error despite subtype success, non-zero exit, no result', () => {
  const cases: { name: string; obs: Partial<RunObservation>; error: RegExp }[] = [
    { name: 'is_error', obs: { exitCode: 1, result: { ...ok, isError: true, result: 'API Error: 500 oops' } }, error: /API Error: 500 oops/ },
    { name: 'is_error with exit 0', obs: { result: { ...ok, isError: true, result: 'bad' } }, error: /bad/ },
    { name: 'non-zero exit with a clean result', obs: { exitCode: 137 }, error: /exited with code 137/ },
    { name: 'no result', obs: { exitCode: 125, result: null, stderrTail: 'Error: image not known' }, error: /without a result[\s\S]*image not known/ },
  ];
  for (const c of cases) {
    const out = classifyOutcome({ ...base, ...c.obs });
    assert.equal(out.kind, 'failed', c.name);
    assert.ok(out.kind === 'failed');
    assert.match(out.error, c.error, c.name);
    assert.equal(out.promptTooLong, false, c.name);
  }
});

test('timeout and cancel win over whatever the CLI printed', () => {
  assert.deepEqual(classifyOutcome({ ...base, timedOut: true, exitCode: 143 }), { kind: 'timeout', sessionId: 's-1' });
  assert.deepEqual(classifyOutcome({ ...base, cancelled: true, result: null }), { kind: 'cancelled', sessionId: 's-1' });
});

test('prompt-too-long is recognised in its known wordings', () => {
  for (const text of [
    'Prompt is too long · the request is ~210000 tokens (limit 200000)',
    'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}',
    'invalid_request_error: input length and max_tokens exceed context limit',
    'the request exceeds the context window',
  ]) {
    assert.equal(isPromptTooLong(text), true, text);
  }
  for (const text of ['API Error: 500 overloaded', 'rate_limit_error', 'file is too long to read']) {
    assert.equal(isPromptTooLong(text), false, text);
  }
  const out = classifyOutcome({ ...base, exitCode: 1, result: { ...ok, isError: true, result: 'Prompt is too long' } });
  assert.ok(out.kind === 'failed' && out.promptTooLong);
});
