/**
 * What wraps every chart: a titled figure, the SVG (with an accessible title and description), its
 * legend, and the numbers as a table in a <details>, for screen readers, copying, and anyone who
 * wants the exact figure. No inline style (the CSP forbids it): colours come from classes in app.css.
 */
import { h, type SafeHtml } from '../html.ts';
import { cssClass, HEIGHT, WIDTH } from './axis.ts';

export interface LegendItem {
  readonly name: string;
  /** The colour class (see the overview block of app.css). */
  readonly cls: string;
}

/** What every chart over categories is told, whatever it draws. */
export interface ChartBase {
  /** Unique on the page: ids of the figure and its title derive from it. */
  readonly id: string;
  readonly title: string;
  /** One sentence on what is drawn, for the SVG's <desc>. */
  readonly desc: string;
  /** The x axis: days or reasons, in order; the table shows them whole. */
  readonly categories: readonly string[];
  readonly xLabel: string;
  readonly yLabel: string;
  /** Formats a value for ticks, tooltips and the table. */
  readonly format: (v: number) => string;
  /** The short label of a category on the x axis. */
  readonly categoryLabel?: (c: string) => string;
}

export interface ChartFrame {
  /** Unique on the page: ids of the figure and its title derive from it. */
  readonly id: string;
  readonly title: string;
  /** One sentence on what is drawn, for the SVG's <desc>. */
  readonly desc: string;
  readonly legend: readonly LegendItem[];
  /** The drawing inside the SVG, or null when the range holds no data. */
  readonly plot: SafeHtml | null;
  readonly table: SafeHtml;
}

function legend(items: readonly LegendItem[]): SafeHtml {
  return h`<ul class="legend">${items.map(
    (i) => h`<li><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" class="${cssClass(i.cls)}"></rect></svg>${i.name}</li>`,
  )}</ul>`;
}

export function chartFigure(f: ChartFrame): SafeHtml {
  const id = cssClass(f.id);
  const body = f.plot
    ? h`<svg class="chart-svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-${id}-title chart-${id}-desc"><title id="chart-${id}-title">${f.title}</title><desc id="chart-${id}-desc">${f.desc}</desc>${f.plot}</svg>
${f.legend.length ? legend(f.legend) : ''}`
    : h`<p class="chart-empty" data-role="chart-empty">No data in this range.</p>`;
  return h`<figure class="chart" id="chart-${id}" data-chart="${id}">
<figcaption><h2>${f.title}</h2></figcaption>
${body}
<details class="chart-data"><summary>The numbers</summary>${f.table}</details>
</figure>`;
}

/** A plain table: a header row, then rows of already formatted cells. */
export function dataTable(header: readonly string[], rows: readonly (readonly string[])[]): SafeHtml {
  return h`<table class="counts"><thead><tr>${header.map((c) => h`<th>${c}</th>`)}</tr></thead>
<tbody>${rows.map((r) => h`<tr>${r.map((c) => h`<td>${c}</td>`)}</tr>`)}</tbody></table>`;
}
