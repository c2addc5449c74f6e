/** Frames survive any chunking of the pipe. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FRAME, FrameReader } from '../../src/os/spawn-protocol.ts';

test('frames split at every byte boundary are read back whole and in order', () => {
  const frames: Array<[number, number, Buffer]> = [
    [0, FRAME.READY, Buffer.alloc(0)],
    [7, FRAME.STDOUT, Buffer.from([0, 1, 2, 255, 10])],
    [2 ** 32 - 1, FRAME.EXIT, Buffer.from('{"code":0,"signal":null}')],
  ];
  const stream = Buffer.concat(frames.map(([id, kind, p]) => encodeFrame(id, kind, p)));
  for (let cut = 0; cut <= stream.length; cut++) {
    const got: Array<[number, number, Buffer]> = [];
    const reader = new FrameReader((id, kind, payload) => got.push([id, kind, payload]));
    reader.push(stream.subarray(0, cut));
    for (const byte of stream.subarray(cut)) reader.push(Buffer.from([byte]));
    assert.deepEqual(got, frames, `cut at ${cut}`);
  }
});
