/**
 * What a webhook request carries: the JSON body, and the headers that let a receiver check it came
 * from us (HMAC-SHA256 with the repository's secret over "<timestamp>.<body>"), when (the timestamp
 * is inside the signature, so an old request cannot be replayed with a fresh one) and which
 * delivery it is (the same id on every retry, so a receiver can drop a repeat). Pure: no I/O.
 * docs/webhooks.md shows a receiver's check.
 */
import { createHmac } from 'node:crypto';
import type { WebhookDelivery } from '../store/webhook-deliveries.ts';

export interface TaskFinishedBody {
  readonly event: 'task.finished';
  readonly repo: string;
  readonly task: {
    readonly id: number;
    readonly status: string;
    readonly conversationId: string | null;
    readonly sender: string | null;
    readonly subject: string;
    readonly costUsd: number | null;
    readonly turns: number | null;
    readonly error: string | null;
    /** ISO 8601, UTC. */
    readonly startedAt: string | null;
    readonly finishedAt: string | null;
    /** The task's dashboard page; null without `dashboard.base_url`. */
    readonly url: string | null;
  };
}

export function taskFinishedBody(d: WebhookDelivery, dashboardBaseUrl: string | null): TaskFinishedBody {
  const t = d.task;
  return {
    event: d.event,
    repo: d.repoId,
    task: {
      id: t.id,
      status: t.status,
      conversationId: t.conversationId,
      sender: t.sender,
      subject: t.subject,
      costUsd: t.costUsd,
      turns: t.turns,
      error: t.error,
      startedAt: iso(t.startedAt),
      finishedAt: iso(t.finishedAt),
      url: dashboardBaseUrl ? `${dashboardBaseUrl}/tasks/${t.id}` : null,
    },
  };
}

/** `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"). */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The request's headers; `nowMs` becomes X-Airut-Timestamp (Unix seconds). */
export function webhookHeaders(d: Pick<WebhookDelivery, 'key' | 'event'>, secret: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    'Content-Type': 'application/json',
    'User-Agent': 'airut-ts-webhook',
    'X-Airut-Event': d.event,
    'X-Airut-Delivery': d.key,
    'X-Airut-Timestamp': timestamp,
    'X-Airut-Signature': signature(secret, timestamp, body),
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
