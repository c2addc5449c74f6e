/**
 * Sends the durable webhook outbox (`webhook_deliveries`), in the main thread. Deliveries are
 * queued by the store in the transaction that finishes a task (store/task-transitions.ts); this
 * loop POSTs each one to its repository's current webhook and records the attempt.
 *
 * Delivery is at least once: a process killed after the receiver got the request but before the
 * answer was recorded sends it again after the restart, with the same X-Airut-Delivery, which is
 * how a receiver drops the repeat. A 2xx answer is delivered; anything else (another status, a
 * redirect, no answer within the deadline, a network error) is retried with exponential backoff
 * until `maxAttempts` or `maxAgeMs` (about a day by default), then given up with a warning and the
 * row marked failed. Nothing is dropped silently.
 *
 * The sender also owns `webhook_subscriptions`: at start and on every reload it writes which
 * repositories want which events, which is what the store reads when a task finishes.
 */
import type { RepoServerConfig } from '../config/types.ts';
import { webhookOrigin } from '../config/webhook-url.ts';
import type { Logger } from '../log/logger.ts';
import { registerSecretValues } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import {
  dueDeliveries,
  makePendingDeliveriesDue,
  markDelivered,
  markDeliveryFailed,
  markDeliveryRetry,
  nextDeliveryDueAt,
  setSubscriptions,
  type WebhookDelivery,
  type WebhookEvent,
} from '../store/webhook-deliveries.ts';
import { retryDelayMs, sleepUntilDue } from '../reply/outbox-sender.ts';
import { taskFinishedBody, webhookHeaders } from './payload.ts';
import { postWebhook } from './post.ts';

export interface WebhookSenderOptions {
  /** Shortest wait between two rounds. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /**
   * Longest wait between two rounds. The loop sleeps until the next delivery is due; a finished
   * task kicks it, so this is only a safety net. Default 30 s.
   */
  readonly idlePollMs?: number;
  /** Deliveries read per round. Default 50. */
  readonly batchSize?: number;
  /** First retry delay; doubles per attempt. Default 10 s. */
  readonly baseBackoffMs?: number;
  /** Longest retry delay. Default 1 h. */
  readonly maxBackoffMs?: number;
  /** Attempts after which a delivery is given up. Default 30 (with the defaults above, about a day). */
  readonly maxAttempts?: number;
  /** A delivery still undelivered this long after its task finished is given up. Default 24 h. */
  readonly maxAgeMs?: number;
  /** Deadline of one attempt. Default 10 s. */
  readonly timeoutMs?: number;
  /** The dashboard's public URL, for the task's link in the body; read per delivery. */
  readonly dashboardBaseUrl?: () => string | null;
  /** Clock and randomness, for tests. */
  readonly now?: () => number;
  readonly random?: () => number;
}

type Settings = Required<WebhookSenderOptions>;

export class WebhookSender {
  readonly #db: Db;
  #repos: Readonly<Record<string, RepoServerConfig>>;
  readonly #log: Logger;
  readonly #o: Settings;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #stopping: Promise<void> | null = null;
  #round: Promise<number> | null = null;
  #kicked = false;

  constructor(db: Db, repos: Readonly<Record<string, RepoServerConfig>>, log: Logger, options: WebhookSenderOptions = {}) {
    this.#db = db;
    this.#repos = repos;
    this.#log = log;
    this.#o = {
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      idlePollMs: options.idlePollMs ?? 30_000,
      batchSize: options.batchSize ?? 50,
      baseBackoffMs: options.baseBackoffMs ?? 10_000,
      maxBackoffMs: options.maxBackoffMs ?? 3600_000,
      maxAttempts: options.maxAttempts ?? 30,
      maxAgeMs: options.maxAgeMs ?? 24 * 3600_000,
      timeoutMs: options.timeoutMs ?? 10_000,
      dashboardBaseUrl: options.dashboardBaseUrl ?? (() => null),
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
    };
    registerSecretValues(webhookSecrets(repos));
  }

  /**
   * Writes the subscriptions, makes every pending delivery due now (the receiver may be back after
   * the restart) and starts the loop. Call before anything can finish a task (the dispatcher's
   * recovery does), so those outcomes are queued too. Calling it again does nothing.
   */
  start(): void {
    if (this.#running || this.#stopping) return;
    this.#syncSubscriptions();
    try {
      const n = makePendingDeliveriesDue(this.#db, this.#o.now());
      if (n > 0) this.#log.info({ pending: n }, 'webhook deliveries from before the start: trying them now');
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'cannot read the webhook deliveries at start-up; the loop retries');
    }
    this.#running = true;
    this.#schedule(0);
  }

  /** A reload: later attempts use the new URLs and secrets, and the subscriptions follow the file. */
  setRepos(repos: Readonly<Record<string, RepoServerConfig>>): void {
    this.#repos = repos;
    registerSecretValues(webhookSecrets(repos));
    this.#syncSubscriptions();
  }

  /** Asks for a round now (a task finished), instead of at the next tick. */
  kick(): void {
    if (!this.#running) return;
    if (this.#round) this.#kicked = true;
    else this.#schedule(0);
  }

  /** Stops the loop; an attempt in flight finishes (within its deadline). Safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#running = false;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      if (this.#round) await this.#round.catch(() => undefined);
    })();
    return this.#stopping;
  }

  /** Runs one round now, waiting for one in progress first; returns how many deliveries it tried. For tests and shutdown. */
  async runOnce(): Promise<number> {
    while (this.#round) await this.#round.catch(() => undefined);
    const round = this.#sendDue();
    this.#round = round;
    try {
      return await round;
    } finally {
      if (this.#round === round) this.#round = null;
    }
  }

  #syncSubscriptions(): void {
    const subs: Record<string, WebhookEvent[]> = {};
    for (const r of Object.values(this.#repos)) if (r.webhook) subs[r.repoId] = [...r.webhook.events];
    try {
      setSubscriptions(this.#db, subs);
    } catch (err) {
      // Left as it was: tasks finishing now follow the previous configuration's subscriptions.
      this.#log.error({ err: (err as Error).message }, 'cannot record which repositories have webhooks');
    }
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#tick();
    }, delayMs);
  }

  async #tick(): Promise<void> {
    let tried = 0;
    try {
      tried = await this.runOnce();
    } catch (err) {
      // A store error (disk full, locked database) must not end the loop; the next tick retries.
      this.#log.error({ err: (err as Error).message }, 'webhook round failed');
    }
    const more = this.#kicked || tried >= this.#o.batchSize;
    this.#kicked = false;
    this.#schedule(more ? 0 : this.#untilNextDue());
  }

  /** Until the next delivery is due (a retry's backoff), within [pollIntervalMs, idlePollMs]. */
  #untilNextDue(): number {
    return sleepUntilDue(() => nextDeliveryDueAt(this.#db), this.#o);
  }

  async #sendDue(): Promise<number> {
    const due = dueDeliveries(this.#db, this.#o.now(), this.#o.batchSize);
    // Receivers are independent: a slow one must not hold up another repository's. Within a
    // repository deliveries go one at a time, oldest first.
    const byRepo = new Map<string, WebhookDelivery[]>();
    for (const d of due) byRepo.set(d.repoId, [...(byRepo.get(d.repoId) ?? []), d]);
    await Promise.all(
      [...byRepo.values()].map(async (list) => {
        for (const d of list) {
          if (this.#stopping) return;
          await this.#deliver(d);
        }
      }),
    );
    return due.length;
  }

  async #deliver(d: WebhookDelivery): Promise<void> {
    const hook = this.#repos[d.repoId]?.webhook;
    const log = this.#log.child({ repo: d.repoId, task: d.taskId, delivery: d.key });
    if (!hook || !hook.events.includes(d.event)) {
      // The webhook was removed (or stopped asking for this event) by a reload: an operator's choice.
      markDeliveryFailed(this.#db, d.id, 'the repository no longer has a webhook for this event', false);
      log.warn({ event: d.event }, 'webhook delivery dropped: the repository no longer has a webhook for it');
      return;
    }
    const body = JSON.stringify(taskFinishedBody(d, this.#o.dashboardBaseUrl()));
    const headers = webhookHeaders(d, hook.secret, body, this.#o.now());
    const result = await postWebhook(hook.url, headers, body, this.#o.timeoutMs);
    const now = this.#o.now();
    const attempts = d.attempts + 1;
    const target = webhookOrigin(hook.url);
    if (result.ok) {
      markDelivered(this.#db, d.id, now);
      log.info({ target, status: result.status, attempts }, 'webhook delivered');
      return;
    }
    if (attempts >= this.#o.maxAttempts || now - d.createdAt >= this.#o.maxAgeMs) {
      markDeliveryFailed(this.#db, d.id, `gave up after ${attempts} attempts: ${result.error}`);
      log.warn({ target, attempts, error: result.error }, 'webhook could not be delivered; giving up');
      return;
    }
    const delay = retryDelayMs(attempts, this.#o.baseBackoffMs, this.#o.maxBackoffMs, this.#o.random);
    markDeliveryRetry(this.#db, d.id, result.error, now + delay);
    log.warn({ target, attempts, error: result.error, retryInMs: delay }, 'webhook not delivered; will retry');
  }
}

function webhookSecrets(repos: Readonly<Record<string, RepoServerConfig>>): string[] {
  return Object.values(repos).flatMap((r) => (r.webhook ? [r.webhook.secret] : []));
}
