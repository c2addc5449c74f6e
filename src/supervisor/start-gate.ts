/**
 * Lets listener threads start a few at a time. A hundred threads started at once on a small machine
 * all evaluate their bundle, collect their start-up garbage, shake hands over TLS and log in at the
 * same moment: the cores thrash between them, and every heap is at its start-up peak together. A
 * start holds its slot until its listener reports that it is past connecting (idle, polling,
 * processing, or waiting to retry), or for `slotMs` at most, so one unreachable server holds the
 * others back by that long and no more.
 */
export class StartGate {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  readonly #held = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(
    concurrency: number,
    private readonly slotMs: number,
  ) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`start concurrency must be a positive integer, got ${concurrency}`);
    this.#free = concurrency;
  }

  /** Resolves when `key` may start; it then holds a slot until release(key) or `slotMs`. */
  async take(key: string): Promise<void> {
    if (this.#closed) return;
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    if (this.#closed) return;
    const timer = setTimeout(() => this.release(key), this.slotMs);
    timer.unref();
    this.#held.set(key, timer);
  }

  /** `key` is past its start (or gave up): its slot goes to the next waiting start. Does nothing for a key holding none. */
  release(key: string): void {
    const timer = this.#held.get(key);
    if (!timer) return;
    clearTimeout(timer);
    this.#held.delete(key);
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }

  /** How many starts hold a slot now. */
  get holding(): number {
    return this.#held.size;
  }

  /** Lets every waiting start through at once and holds nothing more (the supervisor is stopping). */
  close(): void {
    this.#closed = true;
    for (const timer of this.#held.values()) clearTimeout(timer);
    this.#held.clear();
    for (const next of this.#waiting.splice(0)) next();
  }
}
