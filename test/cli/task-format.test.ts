import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEvent, formatTaskEnd } from '../../src/cli/task-format.ts';
import type { ApiTaskDetail } from '../../src/cli/api-types.ts';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);
const ev = (kind: string, data: unknown) => formatEvent({ id: 1, at: AT, kind, data });

describe('formatEvent', () => {
  const cases: Array<[string, unknown, string]> = [
    ['system_init', { model: 'claude-opus-4', sessionId: 's' }, '03:04:05 session started (model claude-opus-4)\n'],
    ['assistant_text', { text: 'line one\nline two\n' }, '03:04:05 line one\n         line two\n'],
    ['tool_use', { name: 'Bash', input: { command: 'make\n  test' } }, '03:04:05 tool Bash: make test\n'],
    ['tool_use', { name: 'Read', input: { file_path: '/workspace/a.ts' } }, '03:04:05 tool Read: /workspace/a.ts\n'],
    ['tool_result', { content: 'ok\nmore', isError: false }, '03:04:05 tool result: ok\n'],
    ['tool_result', { content: '', isError: true }, '03:04:05 tool error: (empty)\n'],
    ['todo_list', { todos: [{ status: 'completed' }, { status: 'pending' }] }, '03:04:05 todo list: 1/2 done\n'],
    ['result', { result: 'All done.', costUsd: 0.1234, turns: 3, durationMs: 4000 }, '03:04:05 result ($0.1234, 3 turns, 4 s)\n         All done.\n'],
    ['result', { result: 'boom', isError: true, subtype: 'error_max_turns' }, '03:04:05 result: error (error_max_turns)\n         boom\n'],
    ['api_retry', { attempt: 2, cause: 'overloaded_error', message: 'busy' }, '03:04:05 API retry 2 (overloaded error): busy\n'],
    ['something_new', { a: 1 }, '03:04:05 something_new: {"a":1}\n'],
    ['assistant_text', { truncated: true, preview: 'abc' }, '03:04:05 assistant_text [truncated]: abc\n'],
  ];
  for (const [kind, data, text] of cases) it(`${kind} ${JSON.stringify(data).slice(0, 40)}`, () => assert.equal(ev(kind, data), text));

  it('cuts a long tool input to one line of 200 characters', () => {
    const line = ev('tool_use', { name: 'Bash', input: { command: 'x'.repeat(500) } });
    assert.equal(line.split('\n').length, 2);
    assert.ok(line.length < 240);
  });
});

describe('formatTaskEnd', () => {
  const detail = (over: Partial<ApiTaskDetail> = {}): ApiTaskDetail => ({
    task: { id: 7, repoId: 'alpha', status: 'completed', subject: 's', conversationId: 'c', costUsd: 1.5, error: null, url: '/tasks/7' },
    events: [],
    result: { text: 'The answer.', isError: false },
    files: [
      { direction: 'out', name: 'report.md', downloadUrl: '/tasks/7/files/1', note: null },
      { direction: 'out', name: 'big.bin', downloadUrl: null, note: 'over the size limit' },
      { direction: 'in', name: 'input.txt', downloadUrl: '/tasks/7/files/3', note: null },
    ],
    ...over,
  });
  const abs = (p: string) => `http://h${p}`;

  it('status, cost, result text and the reply files with absolute URLs', () => {
    assert.equal(
      formatTaskEnd(detail(), false, abs),
      'task 7 completed ($1.50)\nresult:\nThe answer.\nfile report.md: http://h/tasks/7/files/1\nfile big.bin: not kept (over the size limit)\n',
    );
  });
  it('does not repeat a result already printed as an event; names the error', () => {
    const d = detail({ task: { ...detail().task, status: 'failed', costUsd: null, error: 'container exited 137' }, files: [] });
    assert.equal(formatTaskEnd(d, true, abs), 'task 7 failed: container exited 137\n');
  });
});
