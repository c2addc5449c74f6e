/**
 * The geometry every chart shares: one fixed viewBox (the SVG scales with its box in CSS), a plot
 * area inside margins, a y scale with round ticks, date or category labels along x. Pure: numbers
 * in, `SafeHtml` out; every label passes through `h`, so repository names and reasons (data) are
 * escaped and redacted like anything else on a page.
 */
import { h, shorten, type SafeHtml } from '../html.ts';

export const WIDTH = 720;
export const HEIGHT = 260;
export const MARGIN = { left: 70, right: 12, top: 14, bottom: 48 } as const;
export const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
export const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
/** X labels at most this often: 7 days are all labelled, 30 every 5th, 90 every 15th. */
const MAX_X_LABELS = 7;
const MAX_BAR = 64;

export interface YScale {
  /** The value at the top of the plot. */
  readonly top: number;
  readonly ticks: readonly number[];
}

/**
 * A scale from 0 to a round number at or above `max`: steps of 1, 2 or 5 × 10^k (whole numbers when
 * `integer`), or the first of `steps` that gives at most `targetTicks` intervals (durations: 15 s, 1 min…).
 */
export function niceScale(max: number, integer: boolean, steps: readonly number[] = [], targetTicks = 5): YScale {
  const m = Number.isFinite(max) && max > 0 ? max : 1;
  const raw = m / targetTicks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = steps.find((s) => s >= raw) ?? [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const top = Math.ceil(m / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { top, ticks };
}

/** A coordinate with at most two decimals (shorter markup, same picture). */
export function coord(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Where a value sits vertically, in viewBox units. */
export function yOf(v: number, s: YScale): number {
  return coord(MARGIN.top + PLOT_H - (Math.max(0, v) / s.top) * PLOT_H);
}

/** The band of the i-th of n categories: its left edge, width, and centre. */
export function band(i: number, n: number): { x: number; width: number; centre: number } {
  const step = PLOT_W / Math.max(1, n);
  // A few categories make wide bands; a bar wider than MAX_BAR reads as an area, not a bar.
  const width = Math.min(step - Math.min(step * 0.2, 6), MAX_BAR);
  const centre = MARGIN.left + (i + 0.5) * step;
  return { x: coord(centre - width / 2), width: coord(width), centre: coord(centre) };
}

/** A class name from data or a caller: letters, digits, `-` and `_` only. */
export function cssClass(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

export function yAxis(s: YScale, format: (v: number) => string, label: string): SafeHtml {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const midY = coord(MARGIN.top + PLOT_H / 2);
  return h`<g class="axis y-axis">${s.ticks.map((t) => {
    const y = yOf(t, s);
    return h`<line class="grid" x1="${x0}" x2="${x1}" y1="${y}" y2="${y}"></line><text class="tick" x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${format(t)}</text>`;
  })}<text class="axis-label" transform="translate(14 ${midY}) rotate(-90)" text-anchor="middle">${label}</text></g>`;
}

/** `labelOf` turns a category into its short label; with many categories only every k-th is written. */
export function xAxis(categories: readonly string[], label: string, labelOf: (c: string) => string): SafeHtml {
  const n = categories.length;
  const every = Math.max(1, Math.ceil(n / MAX_X_LABELS));
  const baseY = MARGIN.top + PLOT_H;
  const maxChars = Math.max(4, Math.floor((PLOT_W / Math.min(n, MAX_X_LABELS)) / 7));
  return h`<g class="axis x-axis"><line class="baseline" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${baseY}" y2="${baseY}"></line>${categories.map((c, i) =>
    (n - 1 - i) % every === 0
      ? h`<text class="tick" x="${band(i, n).centre}" y="${baseY + 16}" text-anchor="middle">${shorten(labelOf(c), maxChars)}</text>`
      : '',
  )}<text class="axis-label" x="${coord(MARGIN.left + PLOT_W / 2)}" y="${HEIGHT - 6}" text-anchor="middle">${label}</text></g>`;
}

/** `2026-12-03` → `12-03`: the year is in the table and the title. */
export function shortDate(d: string): string {
  return /^\d{4}-\d\d-\d\d$/.test(d) ? d.slice(5) : d;
}
