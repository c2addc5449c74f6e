/**
 * The agent's stdout line splitter keeps at most N bytes of a line. Fed a 200 MB line without a
 * newline in chunks, what it buffers never exceeds the limit, and the next line arrives whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedLineReader } from '../../src/sandbox/line-reader.ts';

const MiB = 1024 * 1024;

test('a 200 MB line without a newline is never buffered beyond the limit; the line after it arrives whole', () => {
  const lines: Array<{ line: string; dropped: number; kept: number }> = [];
  const reader = new BoundedLineReader(4 * MiB, (line, dropped, kept) => lines.push({ line, dropped, kept }));
  const chunk = Buffer.alloc(64 * 1024, 0x61); // 'a', the size of a pipe read
  let maxBuffered = 0;
  for (let sent = 0; sent < 200 * 1000 * 1000; sent += chunk.length) {
    reader.push(chunk);
    maxBuffered = Math.max(maxBuffered, reader.bufferedBytes);
  }
  assert.ok(maxBuffered <= 4 * MiB, `buffered ${maxBuffered} bytes`);
  assert.equal(lines.length, 0, 'no newline yet, no line');
  const result = '{"type":"result","subtype":"success","result":"done"}';
  reader.push(Buffer.from(`\n${result}\n`));
  assert.equal(reader.bufferedBytes, 0);
  assert.equal(lines.length, 2);
  const total = Math.ceil((200 * 1000 * 1000) / chunk.length) * chunk.length;
  assert.equal(lines[0]!.kept, 4 * MiB);
  assert.equal(lines[0]!.line.length, 4 * MiB);
  assert.equal(lines[0]!.dropped, total - 4 * MiB, 'every byte past the limit is counted');
  assert.deepEqual(lines[1], { line: result, dropped: 0, kept: result.length }, 'the final result is parsed after the cut');
});

test('lines split across chunks, CRLF, a last line without a newline, and a line exactly at the limit', () => {
  const lines: Array<[string, number]> = [];
  const reader = new BoundedLineReader(8, (line, dropped) => lines.push([line, dropped]));
  reader.push(Buffer.from('ab'));
  reader.push(Buffer.from('c\r\n12345678\n123456789\n\nxy'));
  reader.push(Buffer.from('z'));
  reader.end();
  assert.deepEqual(lines, [
    ['abc', 0],
    ['12345678', 0],
    ['12345678', 1],
    ['', 0],
    ['xyz', 0],
  ]);
});
