import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, type SseEvent } from '../../src/cli/sse.ts';

/** Feeds the chunks one by one and collects every event. */
function parse(chunks: string[]): SseEvent[] {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
}

describe('SseParser', () => {
  const cases: Array<{ name: string; chunks: string[]; events: SseEvent[] }> = [
    { name: 'one event', chunks: ['event: task\ndata: {"a":1}\n\n'], events: [{ event: 'task', data: '{"a":1}' }] },
    { name: 'default type, id kept', chunks: ['id: 7\ndata: x\n\n'], events: [{ event: 'message', data: 'x', id: '7' }] },
    { name: 'several data lines joined with LF', chunks: ['data: a\ndata: b\n\n'], events: [{ event: 'message', data: 'a\nb' }] },
    { name: 'split anywhere, even inside a field name', chunks: ['ev', 'ent: timel', 'ine\nda', 'ta: 1\n', '\n'], events: [{ event: 'timeline', data: '1' }] },
    { name: 'CRLF and CR line ends', chunks: ['event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r', ': the last CR is a line end once more text follows\n'], events: [{ event: 'a', data: '1' }, { event: 'b', data: '2' }] },
    { name: 'a CRLF split between chunks is one line end', chunks: ['data: 1\r', '\n\r', '\n'], events: [{ event: 'message', data: '1' }] },
    { name: 'comments (heartbeats) and unknown fields ignored', chunks: [': ping\n\nretry: 10\nfoo: bar\ndata: y\n\n'], events: [{ event: 'message', data: 'y' }] },
    { name: 'no space after the colon; a field without colon', chunks: ['data:z\ndata\n\n'], events: [{ event: 'message', data: 'z\n' }] },
    { name: 'an event without data is dropped, and does not leak its type', chunks: ['event: x\n\ndata: 1\n\n'], events: [{ event: 'message', data: '1' }] },
    { name: 'an unfinished event is not dispatched', chunks: ['data: 1\n'], events: [] },
    { name: 'an id with NUL is ignored', chunks: ['id: a\0b\ndata: 1\n\n'], events: [{ event: 'message', data: '1' }] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parse(c.chunks), c.events));
});
