/**
 * A scripted agent for the mock Anthropic API, driven by markers in the task's prompt:
 *   [[bash:CMD]]    run CMD with the Bash tool, then answer with its output
 *   [[sleep:MS]]    wait MS before answering
 *   [[stall]]       never answer (timeout tests)
 *   [[error]]       answer HTTP 400 (agent failure tests: the task's own failure, not a transient one)
 * anything else     answer with a short markdown text quoting the first prompt line.
 */
import {
  blocksOf,
  isAgentRequest,
  isToolResultTurn,
  lastToolResultText,
  type MessagesRequestBody,
  type MockScript,
} from './mock-anthropic.ts';

/** The newest prompt our daemon wrote (it always mentions /outbox: the channel context, a follow-up's note), skipping tool results. */
export function latestPrompt(body: MessagesRequestBody): string {
  const msgs = body.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i]!;
    if (m.role !== 'user') continue;
    const blocks = blocksOf(m);
    if (blocks.some((b) => b.type === 'tool_result')) continue;
    const text = blocks
      .filter((b) => b.type === 'text' && typeof b['text'] === 'string')
      .map((b) => b['text'] as string)
      .join('\n');
    if (text.includes('/outbox')) return text;
  }
  return '';
}

export const scriptedAgent: MockScript = async (body) => {
  if (!isAgentRequest(body)) return { kind: 'text', text: 'ok' };
  const prompt = latestPrompt(body);
  const sleep = /\[\[sleep:(\d+)\]\]/.exec(prompt);
  // Unref'd: a runaway task's answer (Stop and timeout tests sleep 10 min) must not keep the test
  // process alive after its last test; the servers keep it alive while a test still waits.
  if (sleep) await new Promise((r) => setTimeout(r, Number(sleep[1])).unref());
  if (prompt.includes('[[stall]]')) return { kind: 'stall' };
  if (prompt.includes('[[error]]')) return { kind: 'error', status: 400, type: 'invalid_request_error', message: 'mock refuses this request' };
  const bash = /\[\[bash:([^\]]+)\]\]/.exec(prompt);
  if (bash) {
    if (!isToolResultTurn(body)) return { kind: 'tool_use', name: 'Bash', input: { command: bash[1], description: 'run it' } };
    return { kind: 'text', text: `TOOL OUTPUT:\n\n${lastToolResultText(body)}` };
  }
  const firstLine = prompt.split('\n').find((l) => l.trim()) ?? '';
  return { kind: 'text', text: `**Done.** First line: ${firstLine}` };
};
