/** The task page's list of its completion webhook deliveries (docs/webhooks.md); nothing when the repository has no webhook. */
import type { WebhookDelivery } from '../store/webhook-deliveries.ts';
import { h, timeTag, type SafeHtml } from './html.ts';
import { statusBadge } from './views.ts';

export function webhookDeliveries(deliveries: readonly WebhookDelivery[]): SafeHtml {
  if (deliveries.length === 0) return h``;
  return h`<h2>Webhook</h2>
<div class="table-scroll"><table class="webhooks" data-role="webhooks"><thead><tr><th>Delivery</th><th>Reported</th><th>Status</th><th>Attempts</th><th>Last error</th><th>Queued</th><th>Delivered</th></tr></thead><tbody>
${deliveries.map(
  (d) =>
    h`<tr data-webhook-status="${d.status}"><td><code>${d.key}</code></td><td>${d.task.status}</td><td>${statusBadge(d.status)}</td><td>${d.attempts}</td><td class="error-text">${d.lastError ?? ''}</td><td>${timeTag(d.createdAt)}</td><td>${timeTag(d.deliveredAt)}</td></tr>`,
)}
</tbody></table></div>`;
}
