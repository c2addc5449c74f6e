/**
 * The frames between a thread and its spawn helper (spawn-helper.ts, spawn-helper-main.ts): u32
 * length of what follows, u32 request id, u8 kind, payload. Loaded by the helper through Node's
 * type stripping, so: Node modules only, and no TypeScript that needs compiling (no enums).
 */

export const FRAME = {
  /** → helper: JSON {file, args, cwd, env}. */
  START: 1,
  /** → helper: bytes for the program's stdin. */
  STDIN: 2,
  STDIN_END: 3,
  /** → helper: a signal name. */
  KILL: 4,
  /** ← helper, id 0, once: it is listening. */
  READY: 10,
  STDOUT: 11,
  STDERR: 12,
  /** ← helper: JSON {code, signal}. */
  EXIT: 13,
  /** ← helper: JSON {code, message}: the program could not be started. */
  FAILED: 14,
} as const;

export function encodeFrame(id: number, kind: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32BE(5 + payload.length, 0);
  head.writeUInt32BE(id, 4);
  head.writeUInt8(kind, 8);
  return payload.length ? Buffer.concat([head, payload]) : head;
}

/** Splits a byte stream into frames, whatever the chunk boundaries. */
export class FrameReader {
  #pending: Buffer = Buffer.alloc(0);
  readonly #onFrame: (id: number, kind: number, payload: Buffer) => void;

  constructor(onFrame: (id: number, kind: number, payload: Buffer) => void) {
    this.#onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (this.#pending.length >= 4) {
      const len = this.#pending.readUInt32BE(0);
      if (this.#pending.length < 4 + len) break;
      const frame = this.#pending.subarray(4, 4 + len);
      this.#pending = this.#pending.subarray(4 + len);
      this.#onFrame(frame.readUInt32BE(0), frame.readUInt8(4), Buffer.from(frame.subarray(5)));
    }
  }
}
