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
  terminalReason: 'completed',
  apiErrorStatus: null,
  apiErrorType: null,
  apiError: null,
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

test('a run stopped by --max-budget-usd is budget_exceeded, with what it spent', () => {
  const stopped: ResultEvent = { ...ok, subtype: 'error_max_budget_usd', isError: true, result: 'Reached maximum budget ($0.0005)', costUsd: 0.0008, terminalReason: 'budget_exhausted' };
  assert.deepEqual(classifyOutcome({ ...base, exitCode: 1, result: stopped }), { kind: 'budget_exceeded', sessionId: 's-1', costUsd: 0.0008, turns: 2, durationMs: 900 });
});

test('transient API failures are told apart from the task\'s own, from the structured fields and, failing those, the text', () => {
  const failedWith = (r: Partial<ResultEvent>, extra: Partial<RunObservation> = {}) => {
    const out = classifyOutcome({ ...base, exitCode: 1, result: { ...ok, isError: true, result: 'API Error', terminalReason: 'api_error', ...r }, ...extra });
    assert.equal(out.kind, 'failed');
    return out.kind === 'failed' ? out.transient : undefined;
  };
  // What Claude Code 2.1 prints with CLAUDE_CODE_MAX_RETRIES=0 (seen against the mock API).
  assert.deepEqual(failedWith({ apiErrorStatus: 529, apiErrorType: 'overloaded_error' }), { kind: 'overloaded', detail: 'API 529 overloaded_error' });
  assert.deepEqual(failedWith({ apiErrorStatus: 429, apiErrorType: 'rate_limit_error' }), { kind: 'rate_limited', detail: 'API 429 rate_limit_error' });
  assert.deepEqual(failedWith({ apiErrorStatus: 503 }), { kind: 'server_error', detail: 'API 503' });
  assert.deepEqual(failedWith({ apiError: 'connection_failed', result: 'API Error: Connection refused (ECONNREFUSED)' }), { kind: 'network', detail: 'API not reachable (connection_failed)' });
  // The task's own failures: a request the API refuses, a bad key, a crash, a tool error.
  assert.equal(failedWith({ apiErrorStatus: 400, apiErrorType: 'invalid_request_error' }), null);
  assert.equal(failedWith({ apiErrorStatus: 401, apiErrorType: 'authentication_error' }), null);
  assert.equal(failedWith({ result: 'the tests failed', terminalReason: 'completed' }), null);
  assert.equal(failedWith({ result: 'ECONNREFUSED from my own test server', terminalReason: 'completed' }), null);
  // Older wordings: only text.
  assert.deepEqual(failedWith({ result: 'API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}', terminalReason: null }), { kind: 'overloaded', detail: 'API 529 overloaded_error' });
  assert.deepEqual(failedWith({ result: 'API Error: 502 Bad Gateway', terminalReason: null }), { kind: 'server_error', detail: 'API 502' });
  assert.deepEqual(failedWith({ result: 'API Error: Connection error.', terminalReason: null }), { kind: 'network', detail: 'API not reachable (Connection error)' });
  // No result at all: a crash is not transient.
  const crash = classifyOutcome({ ...base, exitCode: 139, result: null, stderrTail: 'Segmentation fault' });
  assert.ok(crash.kind === 'failed' && crash.transient === null);
});
