/**
 * The spend of a repository on its card: the repository's and each sender's over the last 24 hours
 * and this calendar month (UTC), against the caps where `budget:` sets them.
 */
import type { SpendingLimits } from '../config/types.ts';
import { formatUsd } from '../limits/spend-caps.ts';
import { h, type SafeHtml } from './html.ts';
import type { RepoSpend } from './repo-overview.ts';

function against(usd: number, cap: number | null): string {
  return cap === null ? formatUsd(usd) : `${formatUsd(usd)} of ${formatUsd(cap)}`;
}

/** `budget` is null for a repository that is no longer configured (no caps to show). */
export function spendSection(spend: RepoSpend | undefined, budget: SpendingLimits | null): SafeHtml {
  const total = spend?.total ?? { dayUsd: 0, monthUsd: 0 };
  const senders = spend?.bySender ?? [];
  const perSender = senders.length
    ? h`<div class="table-scroll"><table class="counts" data-role="spend-by-sender"><thead><tr><th>sender</th><th>last 24 h</th><th>this month</th></tr></thead>
<tbody>${senders.map(
        (s) => h`<tr><td>${s.sender}</td><td>${against(s.dayUsd, budget?.senderPerDayUsd ?? null)}</td><td>${against(s.monthUsd, budget?.senderPerMonthUsd ?? null)}</td></tr>`,
      )}</tbody></table></div>`
    : '';
  return h`<dl class="fields" data-role="spend">
<dt>Spend, last 24 h</dt><dd data-role="spend-day">${against(total.dayUsd, budget?.repoPerDayUsd ?? null)}</dd>
<dt>Spend, this month (UTC)</dt><dd data-role="spend-month">${against(total.monthUsd, budget?.repoPerMonthUsd ?? null)}</dd>
${budget?.taskUsd != null ? h`<dt>Budget per task</dt><dd>${formatUsd(budget.taskUsd)}</dd>` : ''}
</dl>${perSender}`;
}
