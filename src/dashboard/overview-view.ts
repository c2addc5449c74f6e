/**
 * The Overview page's body: the range selector and the charts, drawn from the same OverviewData
 * that `GET /api/overview` returns (overview-data.ts).
 */
import { formatCost, formatDuration, h, href, type SafeHtml } from './html.ts';
import { stackedBarChart } from './charts/bar-chart.ts';
import { lineChart } from './charts/line-chart.ts';
import { shortDate } from './charts/axis.ts';
import { OVERVIEW_DAYS, type OverviewData, type PercentileSeries } from './overview-data.ts';
import { statusLabel } from './views.ts';

/** Repositories get the palette's colours in turn (k0…k7 in app.css). */
const PALETTE_SIZE = 8;

/** Milliseconds as people read them: under a second in ms (formatDuration rounds to seconds), `15m` not `15m 0s`. */
export function formatMs(ms: number): string {
  return ms > 0 && ms < 1000 ? `${Math.round(ms)} ms` : formatDuration(ms).replace(/ 0[smh]$/, '');
}

/** Round y-axis steps for durations (ms): seconds, minutes, hours, days. */
const S = 1000;
const DURATION_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400].map((s) => s * S);

/** Dollars; a zero is `$0` (the axis' origin), not `$0.0000`. */
function usd(v: number): string {
  return v === 0 ? '$0' : formatCost(v);
}

function count(v: number): string {
  return String(Math.round(v));
}

function rangeForm(o: OverviewData, repos: readonly string[]): SafeHtml {
  const repo = o.repo ?? undefined;
  return h`<form class="filters" method="get" action="/overview" data-role="overview-range">
<label>Range <select name="days">${OVERVIEW_DAYS.map((d) => h`<option value="${d}"${d === o.days ? h` selected` : ''}>last ${d} days</option>`)}</select></label>
<label>Repository <select name="repo"><option value="">all</option>${repos.map((r) => h`<option value="${r}"${r === o.repo ? h` selected` : ''}>${r}</option>`)}</select></label>
<button type="submit">Show</button>
</form>
<p class="range-links">${OVERVIEW_DAYS.map((d, i) => h`${i ? ' · ' : ''}${d === o.days ? h`<strong aria-current="page">${d} days</strong>` : h`<a href="${href('/overview', { days: d, repo })}">${d} days</a>`}`)}
 · <span class="muted">${o.dates[0] ?? ''} to ${o.dates[o.dates.length - 1] ?? ''}, UTC days, ${o.repo === null ? 'all repositories' : h`repository ${o.repo}`}</span>
 · <a href="${href('/api/overview', { days: o.days, repo })}" data-role="overview-json">JSON</a></p>`;
}

function percentileChart(o: OverviewData, id: string, title: string, what: string, p: PercentileSeries): SafeHtml {
  return lineChart({
    id,
    title,
    desc: `${what} per UTC day over the last ${o.days} days: the 50th, 90th and 99th percentile (nearest rank).`,
    categories: o.dates,
    categoryLabel: shortDate,
    series: [
      { name: 'p50', cls: 'k-p50', values: p.p50 },
      { name: 'p90', cls: 'k-p90', values: p.p90 },
      { name: 'p99', cls: 'k-p99', values: p.p99 },
    ],
    xLabel: 'day (UTC)',
    yLabel: 'duration',
    format: formatMs,
    steps: DURATION_STEPS,
    extraColumns: [{ name: 'tasks', values: p.count.map(count) }],
  });
}

export function overviewBody(o: OverviewData, repos: readonly string[]): SafeHtml {
  const dayLabel = { categories: o.dates, categoryLabel: shortDate, xLabel: 'day (UTC)' };
  return h`<h1>Overview</h1>
${rangeForm(o, repos)}
<div class="charts">
${stackedBarChart({
  id: 'tasks-by-outcome',
  title: 'Tasks per day by outcome',
  desc: `Mail received each UTC day over the last ${o.days} days, stacked by the status of its task now.`,
  ...dayLabel,
  series: o.tasksByOutcome.map((s) => ({ name: statusLabel(s.name), cls: `k-${s.name}`, values: s.values })),
  yLabel: 'tasks',
  format: count,
  integer: true,
})}
${stackedBarChart({
  id: 'cost-by-repo',
  title: 'Cost per day by repository',
  desc: `Recorded cost (USD) of the tasks that finished each UTC day over the last ${o.days} days, stacked by repository.`,
  ...dayLabel,
  series: o.costByRepo.map((s, i) => ({ name: s.name, cls: `k${i % PALETTE_SIZE}`, values: s.values })),
  yLabel: 'USD',
  format: usd,
})}
${percentileChart(o, 'queue-wait', 'Queue wait', 'How long mail waited in the queue before its task started,', o.queueWaitMs)}
${percentileChart(o, 'run-time', 'Run time', 'How long finished tasks ran,', o.runTimeMs)}
${stackedBarChart({
  id: 'rejected-by-reason',
  title: 'Rejected mail by reason',
  desc: `Mail rejected over the last ${o.days} days, by the reason it was turned away.`,
  categories: o.rejectedByReason.map((r) => r.reason),
  series: [{ name: 'rejected', cls: 'k-rejected', values: o.rejectedByReason.map((r) => r.count) }],
  xLabel: 'reason',
  yLabel: 'mails',
  format: count,
  integer: true,
})}
</div>`;
}
