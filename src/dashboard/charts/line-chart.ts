/**
 * A line chart over categories (days): one line per series, broken where a value is missing
 * (null: nothing to measure that day) rather than drawn through zero, with a dot on every point so
 * that a lone day still shows; each dot carries a <title> with its exact figure.
 */
import { h, type SafeHtml } from '../html.ts';
import { band, cssClass, niceScale, xAxis, yAxis, yOf, type YScale } from './axis.ts';
import { chartFigure, dataTable, type ChartBase } from './frame.ts';

export interface LineSeries {
  readonly name: string;
  readonly cls: string;
  readonly values: readonly (number | null)[];
}

export interface LineChartSpec extends ChartBase {
  readonly series: readonly LineSeries[];
  /** Round steps for the y axis in the values' unit (e.g. durations), tried before 1-2-5 × 10^k. */
  readonly steps?: readonly number[];
  /** Extra columns of the table (e.g. how many values a day had), one value per category. */
  readonly extraColumns?: readonly { readonly name: string; readonly values: readonly string[] }[];
}

/** Runs of consecutive non-null points, each drawn as one polyline. */
function runs(values: readonly (number | null)[]): { i: number; v: number }[][] {
  const out: { i: number; v: number }[][] = [];
  let cur: { i: number; v: number }[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (cur.length) out.push(cur);
      cur = [];
    } else cur.push({ i, v });
  });
  if (cur.length) out.push(cur);
  return out;
}

function line(s: LineChartSpec, x: LineSeries, scale: YScale): SafeHtml {
  const n = s.categories.length;
  const cls = cssClass(x.cls);
  return h`<g class="series" data-series="${x.name}">${runs(x.values).map((r) =>
    r.length > 1 ? h`<polyline class="line ${cls}" points="${r.map((p) => `${band(p.i, n).centre},${yOf(p.v, scale)}`).join(' ')}"></polyline>` : '',
  )}${x.values.map((v, i) =>
    v === null ? '' : h`<circle class="dot ${cls}" cx="${band(i, n).centre}" cy="${yOf(v, scale)}" r="3"><title>${s.categories[i]} · ${x.name}: ${s.format(v)}</title></circle>`,
  )}</g>`;
}

export function lineChart(s: LineChartSpec): SafeHtml {
  const all = s.series.flatMap((x) => x.values.filter((v): v is number => v !== null));
  const extra = s.extraColumns ?? [];
  const table = dataTable(
    [s.xLabel, ...extra.map((e) => e.name), ...s.series.map((x) => x.name)],
    s.categories.map((c, i) => [c, ...extra.map((e) => e.values[i] ?? ''), ...s.series.map((x) => (x.values[i] == null ? '–' : s.format(x.values[i]!)))]),
  );
  let plot: SafeHtml | null = null;
  if (all.length) {
    const scale = niceScale(Math.max(...all), false, s.steps);
    plot = h`${yAxis(scale, s.format, s.yLabel)}${xAxis(s.categories, s.xLabel, s.categoryLabel ?? ((c) => c))}${s.series.map((x) => line(s, x, scale))}`;
  }
  return chartFigure({ id: s.id, title: s.title, desc: s.desc, legend: s.series.map((x) => ({ name: x.name, cls: x.cls })), plot, table });
}
