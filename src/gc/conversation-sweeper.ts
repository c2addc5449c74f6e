/**
 * Conversation garbage collection: at start-up and then every hour, for every configured repository,
 *
 *  1. archives each conversation idle for longer than `execution.conversation_max_age_days` (one
 *     transaction that refuses when a task of it is queued, running or waiting to resume; see
 *     src/store/conversation-gc.ts), then deletes its directory under `storage_dir/conversations/`
 *     (with the files kept for the dashboard, src/task-files/kept-path.ts);
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
  readonly repos: Readonly<Record<string, SweptRepo>>;
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

type SweptRepo = Pick<RepoServerConfig, 'repoId' | 'storageDir'>;

/** What one sweep did so far: each step adds to it. */
interface Tally {
  readonly archived: Array<{ repoId: string; id: string; taskCount: number }>;
  readonly busy: Array<{ repoId: string; id: string }>;
  readonly directoriesRemoved: string[];
  readonly imagesRemoved: string[];
  readonly errors: string[];
  bytesFreed: number;
  readonly fail: (what: string, err: unknown, fields?: Record<string, unknown>) => void;
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
    const t = this.tally();
    const { archived, busy, directoriesRemoved, imagesRemoved, errors, fail } = t;

    for (const repo of Object.values(this.o.repos)) {
      if (this.stopped) break;
      try {
        await this.sweepRepo(repo, cutoff, now, t);
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
    await this.pruneOldImages(now, t);

    const bytesFreed = t.bytesFreed;
    const report = { archived, busy, directoriesRemoved, bytesFreed, imagesRemoved, errors };
    this.o.log.debug(
      { archived: archived.length, busy: busy.length, directories: directoriesRemoved.length, bytesFreed, images: imagesRemoved.length },
      'conversation GC sweep done',
    );
    return report;
  }

  /** An empty account of one sweep, and its `fail`: a failed step is noted and the sweep goes on. */
  private tally(): Tally {
    const errors: string[] = [];
    return {
      archived: [],
      busy: [],
      directoriesRemoved: [],
      imagesRemoved: [],
      errors,
      bytesFreed: 0,
      fail: (what, err, fields = {}) => {
        const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
        errors.push(message);
        this.o.log.warn({ ...fields, err: message }, 'conversation GC step failed; retried at the next sweep');
      },
    };
  }

  /** Steps 1 to 3 for one repository. */
  private async sweepRepo(repo: SweptRepo, cutoff: number, now: number, t: Tally): Promise<void> {
    const store = new ConversationStore(repo.storageDir);
    await this.archiveIdle(repo, store, cutoff, now, t);
    await this.deleteUnkeptDirectories(repo, store, cutoff, t);
    t.bytesFreed += compactUnthreadedMail(this.o.db, repo.repoId, cutoff);
  }

  /** 1. Archives idle conversations (unless a task of theirs is pending), then deletes their directories. */
  private async archiveIdle(repo: SweptRepo, store: ConversationStore, cutoff: number, now: number, t: Tally): Promise<void> {
    const { archived, busy, directoriesRemoved, fail } = t;
    for (const c of findIdleConversations(this.o.db, repo.repoId, cutoff)) {
      if (this.stopped) break;
      const outcome = archiveConversation(this.o.db, repo.repoId, c.id, cutoff, now);
      if (outcome.kind === 'busy') busy.push({ repoId: repo.repoId, id: c.id });
      if (outcome.kind !== 'archived') continue;
      archived.push({ repoId: repo.repoId, id: c.id, taskCount: outcome.taskCount });
      t.bytesFreed += outcome.bytesFreed;
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
  }

  /** 2. Deletes directories the database says are archived, or does not know and are old enough. */
  private async deleteUnkeptDirectories(repo: SweptRepo, store: ConversationStore, cutoff: number, t: Tally): Promise<void> {
    const { directoriesRemoved, fail } = t;
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
  }

  /** 4. Removes the images this daemon built that no repository uses any more. */
  private async pruneOldImages(now: number, t: Tally): Promise<void> {
    const { imagesRemoved, fail } = t;
    if (this.o.images && !this.stopped) {
      try {
        const use = imagesInUse(this.o.db, Object.keys(this.o.repos), now - IMAGE_GRACE_MS);
        const report = await this.o.images.pruneImages((image) => use.keep.has(image.tag) || use.unknownRepos.has(image.labels.repo ?? ''));
        for (const image of report.removed) {
          forgetRepoImage(this.o.db, image.tag);
          imagesRemoved.push(image.tag);
        }
        if (report.removed.length) this.o.log.info({ images: imagesRemoved }, 'removed old container images');
        for (const f of report.failed) fail(`removing image ${f.image.tag}`, f.error);
      } catch (err) {
        fail('pruning images', err);
      }
    }
  }
}
