/**
 * A stacked bar chart: one bar per category (a day, a reason), one coloured segment per series
 * with a value above zero, each segment carrying a <title> with its exact figure (the tooltip).
 */
import { h, type SafeHtml } from '../html.ts';
import { band, coord, cssClass, niceScale, xAxis, yAxis, yOf } from './axis.ts';
import { chartFigure, dataTable, type ChartBase, type LegendItem } from './frame.ts';

export interface BarSeries {
  readonly name: string;
  /** The colour class. */
  readonly cls: string;
  /** One value per category. */
  readonly values: readonly number[];
}

export interface BarChartSpec extends ChartBase {
  readonly series: readonly BarSeries[];
  /** Whole-number ticks (counts). */
  readonly integer?: boolean;
}

function totals(s: BarChartSpec): number[] {
  return s.categories.map((_, i) => s.series.reduce((sum, x) => sum + Math.max(0, x.values[i] ?? 0), 0));
}

function bars(s: BarChartSpec, top: number): SafeHtml[] {
  const scale = { top, ticks: [] };
  const n = s.categories.length;
  return s.categories.map((c, i) => {
    const b = band(i, n);
    let base = 0;
    const segments = s.series.map((x) => {
      const v = x.values[i] ?? 0;
      if (!(v > 0)) return '';
      const y0 = yOf(base, scale);
      base += v;
      const y1 = yOf(base, scale);
      return h`<rect class="bar ${cssClass(x.cls)}" data-series="${x.name}" x="${b.x}" y="${y1}" width="${b.width}" height="${coord(y0 - y1)}"><title>${c} · ${x.name}: ${s.format(v)}</title></rect>`;
    });
    return h`<g class="stack">${segments}</g>`;
  });
}

export function stackedBarChart(s: BarChartSpec): SafeHtml {
  const sums = totals(s);
  const max = Math.max(0, ...sums);
  const legendItems: LegendItem[] = s.series.map((x) => ({ name: x.name, cls: x.cls }));
  const table = dataTable(
    [s.xLabel, ...s.series.map((x) => x.name), ...(s.series.length > 1 ? ['total'] : [])],
    s.categories.map((c, i) => [c, ...s.series.map((x) => s.format(x.values[i] ?? 0)), ...(s.series.length > 1 ? [s.format(sums[i]!)] : [])]),
  );
  let plot: SafeHtml | null = null;
  if (max > 0) {
    const scale = niceScale(max, s.integer ?? false);
    plot = h`${yAxis(scale, s.format, s.yLabel)}${bars(s, scale.top)}${xAxis(s.categories, s.xLabel, s.categoryLabel ?? ((c) => c))}`;
  }
  return chartFigure({ id: s.id, title: s.title, desc: s.desc, legend: legendItems, plot, table });
}
