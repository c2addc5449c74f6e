/**
 * The last /metrics body, reused while the database is unchanged. Ten scrapers that ask at once get
 * one computation; the answer is never stale, because the key moves with every write, on this
 * connection (the main thread shares the dashboard's) or another (src/store/change-stamp.ts). The
 * configured repositories are part of the key: a reload can add or drop one.
 */
import type { Db } from '../store/database.ts';
import { changeStamp } from '../store/change-stamp.ts';

export class MetricsBodyCache {
  private key: string | null = null;
  private body = '';

  constructor(private readonly db: Db) {}

  get(configuredRepoIds: readonly string[], compute: () => string): string {
    const key = `${changeStamp(this.db)}|${configuredRepoIds.join('\u0000')}`;
    if (key !== this.key) {
      this.body = compute();
      this.key = key;
    }
    return this.body;
  }
}
