/**
 * Conversation garbage collection: at start-up and then every hour, for every configured repository,
 *
 *  1. archives each conversation idle for longer than `execution.conversation_max_age_days` (one
 *     transaction that refuses when a task of it is queued, running or waiting to resume; see
 *     src/store/conversation-gc.ts), then deletes its directory under `storage_dir/conversations/`;
 *  2. deletes directories the database says are archived (a delete that failed last time) or does
 *     not know at all, once they are older than the limit too;
 *  3. empties the raw bytes of old mail that belongs to no conversation (rejected mail), and
 *     forgets the days of the rejected-mail account (src/store/rejected-mail.ts) as old as that;
 *  4. removes the container images this daemon built that are no longer the current image of any
 *     repository (nor used in the last hour), leaving images of repositories whose current image is
 *     not yet known.
 *
 * Runs on the main thread with the main connection: every database step is a short transaction.
 * Failures are logged and retried at the next sweep; nothing here stops the daemon.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { ConversationStore } from '../conversation/store.ts';
import type { Logger } from '../log/logger.ts';
import type { ExecutionBackend } from '../sandbox/execution-backend.ts';
import type { Db } from '../store/database.ts';
import { archiveConversation, compactUnthreadedMail, findIdleConversations } from '../store/conversation-gc.ts';
import { conversationRecord } from '../store/conversations.ts';
import { forgetRepoImage, imagesInUse } from '../store/repo-images.ts';
import { forgetRejectedMailDaysBefore } from '../store/rejected-mail.ts';

const DAY_MS = 86_400_000;
export const SWEEP_INTERVAL_MS = 3_600_000;
/** An image used this recently is kept even if it is no longer current: a task may be about to start it. */
export const IMAGE_GRACE_MS = 3_600_000;

export interface SweeperOptions {
  readonly db: Db;
  readonly repos: Readonly<Record<string, Pick<RepoServerConfig, 'repoId' | 'storageDir'>>>;
  readonly maxAgeDays: number;
  /** Prunes this daemon's images (only those carrying its instance id); null skips it. */
  readonly images: Pick<ExecutionBackend, 'pruneImages'> | null;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export interface SweepReport {
  readonly archived: ReadonlyArray<{ readonly repoId: string; readonly id: string; readonly taskCount: number }>;
  /** Idle, but a task of theirs is pending: kept for now. */
  readonly busy: ReadonlyArray<{ readonly repoId: string; readonly id: string }>;
  /** Conversation directories deleted (absolute paths). */
  readonly directoriesRemoved: readonly string[];
  /** Raw mail bytes emptied in the database. */
  readonly bytesFreed: number;
  readonly imagesRemoved: readonly string[];
  readonly errors: readonly string[];
}

export class ConversationSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepReport> | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: SweeperOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Sweeps now (in the background) and then every interval. */
  start(): void {
    this.stopped = false;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.o.intervalMs ?? SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress (so the database can be closed after). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One sweep; a call while one runs returns that one. */
  sweep(): Promise<SweepReport> {
    this.running ??= this.sweepOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async sweepOnce(): Promise<SweepReport> {
    const now = this.now();
    const cutoff = now - this.o.maxAgeDays * DAY_MS;
    const archived: Array<{ repoId: string; id: string; taskCount: number }> = [];
    const busy: Array<{ repoId: string; id: string }> = [];
    const directoriesRemoved: string[] = [];
    const errors: string[] = [];
    let bytesFreed = 0;
    const fail = (what: string, err: unknown, fields: Record<string, unknown> = {}) => {
      const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
      errors.push(message);
      this.o.log.warn({ ...fields, err: message }, 'conversation GC step failed; retried at the next sweep');
    };

    for (const repo of Object.values(this.o.repos)) {
      if (this.stopped) break;
      const store = new ConversationStore(repo.storageDir);
      try {
        for (const c of findIdleConversations(this.o.db, repo.repoId, cutoff)) {
          if (this.stopped) break;
          const outcome = archiveConversation(this.o.db, repo.repoId, c.id, cutoff, now);
          if (outcome.kind === 'busy') busy.push({ repoId: repo.repoId, id: c.id });
          if (outcome.kind !== 'archived') continue;
          archived.push({ repoId: repo.repoId, id: c.id, taskCount: outcome.taskCount });
          bytesFreed += outcome.bytesFreed;
          this.o.log.info(
            { repo: repo.repoId, conversation: c.id, tasks: outcome.taskCount, idleDays: Math.floor((now - c.lastActivityAt) / DAY_MS) },
            'archived an idle conversation',
          );
          // After the commit: from now on nothing resumes this conversation.
          try {
            await store.delete(c.id);
            directoriesRemoved.push(store.paths(c.id).root);
          } catch (err) {
            fail(`deleting conversation ${c.id}`, err, { repo: repo.repoId, conversation: c.id });
          }
        }
        for (const id of await store.listConversations()) {
          const root = store.paths(id).root;
          if (directoriesRemoved.includes(root)) continue;
          const record = conversationRecord(this.o.db, repo.repoId, id);
          if (record === 'live') continue;
          if (record === 'unknown') {
            const last = await store.lastActivity(id);
            if (last === null || last.getTime() >= cutoff) continue;
          }
          try {
            await store.delete(id);
            directoriesRemoved.push(root);
            this.o.log.info({ repo: repo.repoId, conversation: id, record }, 'deleted a conversation directory the database does not keep');
          } catch (err) {
            fail(`deleting conversation ${id}`, err, { repo: repo.repoId, conversation: id });
          }
        }
        bytesFreed += compactUnthreadedMail(this.o.db, repo.repoId, cutoff);
      } catch (err) {
        fail(`sweeping repository ${repo.repoId}`, err, { repo: repo.repoId });
      }
    }
    try {
      // The daily account of rejected mail goes with the bytes it counted (emptied just above).
      if (!this.stopped) forgetRejectedMailDaysBefore(this.o.db, cutoff);
    } catch (err) {
      fail('forgetting old days of the rejected-mail account', err);
    }

    const imagesRemoved = this.stopped ? [] : await this.pruneImages(now, fail);

    const report = { archived, busy, directoriesRemoved, bytesFreed, imagesRemoved, errors };
    this.o.log.debug(
      { archived: archived.length, busy: busy.length, directories: directoriesRemoved.length, bytesFreed, images: imagesRemoved.length },
      'conversation GC sweep done',
    );
    return report;
  }

  /** Step 4: this daemon's images that are no longer current (nor recently used); returns the tags removed. */
  private async pruneImages(now: number, fail: (what: string, err: unknown) => void): Promise<string[]> {
    const removed: string[] = [];
    if (!this.o.images) return removed;
    try {
      const use = imagesInUse(this.o.db, Object.keys(this.o.repos), now - IMAGE_GRACE_MS);
      const report = await this.o.images.pruneImages((image) => use.keep.has(image.tag) || use.unknownRepos.has(image.labels.repo ?? ''));
      for (const image of report.removed) {
        forgetRepoImage(this.o.db, image.tag);
        removed.push(image.tag);
      }
      if (report.removed.length) this.o.log.info({ images: removed }, 'removed old container images');
      for (const f of report.failed) fail(`removing image ${f.image.tag}`, f.error);
    } catch (err) {
      fail('pruning images', err);
    }
    return removed;
  }
}
