/**
 * What a mirror read can keep between tasks of one thread without ever being wrong: a tree listing
 * named by its commit and path, and a blob named by its object id, never change (git is
 * content-addressed). Every task reads `.airut/airut.yaml`, the allowlist and the image context
 * from the default branch; while that branch does not move, these caches answer instead of a `git`
 * child process each — and forking a large daemon for each one is what a busy coordinator pays most
 * for (docs/benchmarks.md, "Kubernetes backend capacity").
 *
 * Bounded by entry count and bytes, least recently used out first; blobs larger than a quarter of
 * the byte budget are not kept (a build context's big binary is read once and dropped).
 */

export class BoundedCache<V> {
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (v: V) => number,
  ) {}

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    // Refresh its place: Map iterates in insertion order, so the first key is the least recent.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V): void {
    const bytes = this.sizeOf(value);
    if (bytes > this.maxBytes / 4) return;
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#bytes -= old.bytes;
    }
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    while (this.#entries.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const [k, e] = this.#entries.entries().next().value!;
      this.#entries.delete(k);
      this.#bytes -= e.bytes;
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
