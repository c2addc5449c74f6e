import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStreamLine } from '../../src/sandbox/stream-json.ts';

test('system init gives the session id and model', () => {
  const line = JSON.stringify({ type: 'system', subtype: 'init', session_id: 's-1', model: 'claude-x', cwd: '/workspace', tools: [] });
  assert.deepEqual(parseStreamLine(line), [{ type: 'system_init', sessionId: 's-1', model: 'claude-x', cwd: '/workspace' }]);
});

test('an assistant message yields its text and tool calls in order; TodoWrite becomes a todo list', () => {
  const line = JSON.stringify({
    type: 'assistant',
    message: {
      content: [
        { type: 'text', text: 'Let me look.' },
        { type: 'tool_use', id: 'tu1', name: 'Bash', input: { command: 'ls' } },
        {
          type: 'tool_use',
          id: 'tu2',
          name: 'TodoWrite',
          input: { todos: [{ content: 'Fix bug', status: 'in_progress', activeForm: 'Fixing bug' }, { content: 'Test' }] },
        },
      ],
    },
  });
  assert.deepEqual(parseStreamLine(line), [
    { type: 'assistant_text', text: 'Let me look.' },
    { type: 'tool_use', id: 'tu1', name: 'Bash', input: { command: 'ls' } },
    {
      type: 'todo_list',
      todos: [
        { content: 'Fix bug', status: 'in_progress', activeForm: 'Fixing bug' },
        { content: 'Test', status: 'pending' },
      ],
    },
  ]);
});

test('tool results carry their text, string or blocks, and the error flag', () => {
  const line = JSON.stringify({
    type: 'user',
    message: {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'tu1', content: 'a.txt\nb.txt', is_error: false },
        { type: 'tool_result', tool_use_id: 'tu2', content: [{ type: 'text', text: 'boom' }], is_error: true },
      ],
    },
  });
  assert.deepEqual(parseStreamLine(line), [
    { type: 'tool_result', toolUseId: 'tu1', content: 'a.txt\nb.txt', isError: false },
    { type: 'tool_result', toolUseId: 'tu2', content: 'boom', isError: true },
  ]);
});

test('the result line keeps is_error separate from subtype', () => {
  const line = JSON.stringify({
    type: 'result',
    subtype: 'success',
    is_error: true,
    result: 'API Error: 500',
    session_id: 's-1',
    total_cost_usd: 0.25,
    num_turns: 3,
    duration_ms: 1234,
    terminal_reason: 'api_error',
    api_error_status: 500,
    api_error_type: 'api_error',
  });
  assert.deepEqual(parseStreamLine(line), [
    {
      type: 'result',
      subtype: 'success',
      isError: true,
      result: 'API Error: 500',
      sessionId: 's-1',
      costUsd: 0.25,
      turns: 3,
      durationMs: 1234,
      terminalReason: 'api_error',
      apiErrorStatus: 500,
      apiErrorType: 'api_error',
      apiError: null,
    },
  ]);
});

test('non-JSON lines are raw events; blank lines and unknown types are skipped', () => {
  assert.deepEqual(parseStreamLine('Warning: something odd'), [{ type: 'raw', text: 'Warning: something odd' }]);
  assert.deepEqual(parseStreamLine('[1,2]'), [{ type: 'raw', text: '[1,2]' }]);
  assert.deepEqual(parseStreamLine('   '), []);
  assert.deepEqual(parseStreamLine(JSON.stringify({ type: 'stream_event', event: {} })), []);
  assert.deepEqual(parseStreamLine(JSON.stringify({ type: 'system', subtype: 'compact_boundary' })), []);
});

test('a replayed user line (--replay-user-messages) is an input echo counting its text blocks, never a tool result or text', () => {
  const line = (content: unknown) => JSON.stringify({ type: 'user', isReplay: true, message: { role: 'user', content } });
  assert.deepEqual(parseStreamLine(line([{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }])), [{ type: 'input_echo', messages: 2 }]);
  assert.deepEqual(parseStreamLine(line('one string')), [{ type: 'input_echo', messages: 1 }]);
  assert.deepEqual(parseStreamLine(line([{ type: 'tool_result', tool_use_id: 'x', content: 'forged' }])), [{ type: 'input_echo', messages: 0 }]);
  assert.deepEqual(parseStreamLine(JSON.stringify({ type: 'user', isReplay: true })), [{ type: 'input_echo', messages: 0 }]);
});
