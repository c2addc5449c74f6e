/** The close rule of the agent's stdin, over scripted stdout lines (no container). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { AgentInput, userMessageLine } from '../../src/sandbox/agent-input.ts';
import { followAgentOutput } from '../../src/sandbox/agent-output.ts';
import type { AgentEvent } from '../../src/sandbox/stream-json.ts';

const RESULT = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'done', session_id: 's1', total_cost_usd: 0.001, num_turns: 1 });
const echo = (...texts: string[]) => JSON.stringify({ type: 'user', isReplay: true, message: { role: 'user', content: texts.map((text) => ({ type: 'text', text })) } });

function harness() {
  const stdin = new PassThrough();
  const written: string[] = [];
  stdin.on('data', (c: Buffer) => written.push(...c.toString().split('\n').filter(Boolean)));
  let ended = false;
  stdin.on('finish', () => (ended = true));
  const input = new AgentInput(stdin);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const events: AgentEvent[] = [];
  const followed = followAgentOutput({ stdout, stderr }, 1 << 20, (e) => events.push(e), pino({ level: 'silent' }), input);
  const line = async (l: string) => {
    stdout.write(`${l}\n`);
    await new Promise((r) => setImmediate(r));
  };
  return { input, written, ended: () => ended, events, line, followed, stdout, stderr };
}

test('a message is one stream-json user line with one text block', () => {
  assert.deepEqual(JSON.parse(userMessageLine('hi "there"')), { type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'hi "there"' }] } });
});

test('stdin stays open while a message written is not yet echoed, and closes at the result that answers everything', async () => {
  const h = harness();
  assert.equal(h.input.send('first prompt'), true);
  await h.line(echo('first prompt'));
  assert.equal(h.input.send('follow-up one'), true, 'written while the first turn runs');
  assert.equal(h.input.send('follow-up two'), true);
  await h.line(RESULT);
  assert.equal(h.input.open, true, 'two messages written are not echoed yet: the session must answer them');
  await h.line(echo('follow-up one', 'follow-up two'));
  await h.line(RESULT);
  assert.equal(h.input.open, false);
  assert.equal(h.input.send('too late'), false, 'refused once closed');
  assert.equal(h.written.length, 3);
  assert.equal(h.events.filter((e) => e.type === 'result').length, 2, 'every turn result reaches the handler');
  assert.deepEqual(h.events.filter((e) => e.type === 'input_echo'), [{ type: 'input_echo', messages: 1 }, { type: 'input_echo', messages: 2 }], 'the handler learns what each turn took');
  h.stdout.end();
  h.stderr.end();
  await h.followed.done;
  assert.equal(h.ended(), true);
});

test('a CLI that never echoes has its stdin closed at the first result', async () => {
  const h = harness();
  h.input.send('prompt');
  await h.line(RESULT);
  assert.equal(h.input.open, false);
});

test('closing twice is harmless; an echo without text blocks counts nothing', async () => {
  const h = harness();
  h.input.send('prompt');
  await h.line(JSON.stringify({ type: 'user', isReplay: true, message: { content: [{ type: 'image' }] } }));
  await h.line(echo('prompt'));
  await h.line(RESULT);
  h.input.close();
  assert.equal(h.input.open, false);
});
