/** A pino logger whose JSON lines a test can read back. */
import { Writable } from 'node:stream';
import pino from 'pino';

export function captureLog(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}
