/**
 * A micro-cache for the two responses that get hammered (the tasks page and GET /api/tasks):
 * a body is reused for LIST_CACHE_MS, so a burst of viewers or a polling script costs one query
 * per URL per interval instead of one per request. Short enough that a reload never looks stale
 * (live changes arrive over SSE anyway); bounded so odd query strings cannot grow it.
 */
export const LIST_CACHE_MS = 250;
const MAX_ENTRIES = 256;

interface Entry {
  readonly body: string;
  readonly at: number;
}

export class MicroCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs: number = LIST_CACHE_MS) {}

  get(key: string, now: number): string | null {
    const e = this.entries.get(key);
    if (!e) return null;
    if (now - e.at >= this.ttlMs) {
      this.entries.delete(key);
      return null;
    }
    return e.body;
  }

  set(key: string, body: string, now: number): void {
    if (this.entries.size >= MAX_ENTRIES) {
      // Drop expired entries first; if all are fresh, the oldest (Map keeps insertion order).
      for (const [k, e] of this.entries) if (now - e.at >= this.ttlMs) this.entries.delete(k);
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, { body, at: now });
  }

  clear(): void {
    this.entries.clear();
  }
}
