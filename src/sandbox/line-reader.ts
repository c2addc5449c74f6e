/**
 * Splits the agent's stdout into lines, keeping at most `maxLineBytes` of any one line.
 *
 * readline buffers a line until its newline arrives, however long it is: a container printing
 * 200 MB without a newline would hold 200 MB (and then a 200 MB string) in the runner thread.
 * Here the bytes past the limit are counted and thrown away as they arrive, up to the next newline,
 * so what is buffered never exceeds the limit. The caller learns how much of each line was cut.
 * Works on bytes, not characters: the limit is what memory costs, and a multi-byte character cut
 * at the limit decodes as U+FFFD.
 */

/** `keptBytes` is the size of `line` before decoding; `droppedBytes` how many bytes of it were thrown away. */
export type LineHandler = (line: string, droppedBytes: number, keptBytes: number) => void;

export class BoundedLineReader {
  readonly #max: number;
  readonly #onLine: LineHandler;
  #parts: Buffer[] = [];
  #kept = 0;
  #dropped = 0;

  constructor(maxLineBytes: number, onLine: LineHandler) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) throw new RangeError(`maxLineBytes must be a positive integer, not ${maxLineBytes}`);
    this.#max = maxLineBytes;
    this.#onLine = onLine;
  }

  /** Bytes of the current, unfinished line held in memory; never more than the limit. */
  get bufferedBytes(): number {
    return this.#kept;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      this.#take(chunk.subarray(start, end));
      if (nl === -1) return;
      this.#emit();
      start = nl + 1;
    }
  }

  /** The stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.#kept > 0 || this.#dropped > 0) this.#emit();
  }

  #take(piece: Buffer): void {
    const room = this.#max - this.#kept;
    if (piece.length <= room) {
      if (piece.length > 0) this.#parts.push(Buffer.from(piece)); // a copy: the chunk is not ours to keep
      this.#kept += piece.length;
      return;
    }
    if (room > 0) this.#parts.push(Buffer.from(piece.subarray(0, room)));
    this.#kept += Math.max(room, 0);
    this.#dropped += piece.length - Math.max(room, 0);
  }

  #emit(): void {
    let line = Buffer.concat(this.#parts, this.#kept).toString('utf8');
    if (this.#dropped === 0 && line.endsWith('\r')) line = line.slice(0, -1);
    const dropped = this.#dropped;
    const kept = this.#kept;
    this.#parts = [];
    this.#kept = 0;
    this.#dropped = 0;
    this.#onLine(line, dropped, kept);
  }
}
