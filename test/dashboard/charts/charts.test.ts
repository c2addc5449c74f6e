/** The chart modules as pure functions: scales, bars, lines, the empty state, escaping of labels. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { band, cssClass, niceScale, PLOT_W, MARGIN } from '../../../src/dashboard/charts/axis.ts';
import { stackedBarChart } from '../../../src/dashboard/charts/bar-chart.ts';
import { lineChart } from '../../../src/dashboard/charts/line-chart.ts';

test('niceScale rounds the top up to a step of 1, 2 or 5 × 10^k, or to a given step', () => {
  for (const [max, integer, top, ticks] of [
    [3, true, 3, [0, 1, 2, 3]],
    [10, true, 10, [0, 2, 4, 6, 8, 10]],
    [47, true, 50, [0, 10, 20, 30, 40, 50]],
    [0, true, 1, [0, 1]],
    [0.37, false, 0.4, [0, 0.1, 0.2, 0.3, 0.4]],
    [8.5, false, 10, [0, 2, 4, 6, 8, 10]],
    [Number.NaN, false, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]],
  ] as const) {
    assert.deepEqual(niceScale(max, integer), { top, ticks }, `max ${max}`);
  }
  assert.deepEqual(niceScale(14_000, false, [1000, 2000, 5000, 15_000]), { top: 15_000, ticks: [0, 5000, 10_000, 15_000] });
});

test('bands stay inside the plot, and a few categories do not make bars wider than 64', () => {
  const last = band(29, 30);
  assert.ok(last.x + last.width <= MARGIN.left + PLOT_W + 0.01);
  assert.ok(band(0, 2).width <= 64);
  assert.equal(cssClass('k-Budget_Exceeded" onclick=x'), 'k-budget_exceededonclickx');
});

const days = ['2026-11-01', '2026-11-02', '2026-11-03'];

test('a stacked bar chart draws one segment per day and series with a value, its numbers in a table', () => {
  const html = stackedBarChart({
    id: 'demo',
    title: 'Demo',
    desc: 'A demo.',
    categories: days,
    series: [
      { name: 'a', cls: 'k0', values: [1, 0, 2] },
      { name: 'b', cls: 'k1', values: [0, 0, 3] },
    ],
    xLabel: 'day',
    yLabel: 'n',
    format: String,
    integer: true,
  }).value;
  assert.equal(html.match(/<rect class="bar /g)?.length, 3);
  assert.match(html, /<title id="chart-demo-title">Demo<\/title><desc id="chart-demo-desc">A demo\.<\/desc>/);
  assert.match(html, /<tr><td>2026-11-03<\/td><td>2<\/td><td>3<\/td><td>5<\/td><\/tr>/);
  assert.doesNotMatch(html, /style=/);
});

test('a chart with nothing to draw says so and still has its table', () => {
  const bars = stackedBarChart({ id: 'e', title: 'E', desc: 'd', categories: days, series: [], xLabel: 'day', yLabel: 'n', format: String }).value;
  assert.match(bars, /No data in this range\./);
  assert.doesNotMatch(bars, /<svg class="chart-svg"/);
  const lines = lineChart({ id: 'l', title: 'L', desc: 'd', categories: days, series: [{ name: 'p50', cls: 'k-p50', values: [null, null, null] }], xLabel: 'day', yLabel: 'ms', format: String }).value;
  assert.match(lines, /No data in this range\./);
  assert.match(lines, /<td>2026-11-01<\/td><td>–<\/td>/);
});

test('a line breaks where a day has no value, and every value has a dot', () => {
  const html = lineChart({
    id: 'l',
    title: 'L',
    desc: 'd',
    categories: [...days, '2026-11-04', '2026-11-05'],
    series: [{ name: 'p50', cls: 'k-p50', values: [1, 2, null, 4, 5] }],
    xLabel: 'day',
    yLabel: 'ms',
    format: String,
  }).value;
  assert.equal(html.match(/<polyline /g)?.length, 2);
  assert.equal(html.match(/<circle /g)?.length, 4);
});

test('labels from data are escaped everywhere they appear', () => {
  const evil = '<script>alert(1)</script>';
  const html = stackedBarChart({
    id: 'x',
    title: 'X',
    desc: 'd',
    categories: [`"><img src=x onerror=alert(2)>`],
    series: [{ name: evil, cls: evil, values: [1] }, { name: 'b', cls: 'k1', values: [1] }],
    xLabel: 'reason',
    yLabel: 'n',
    format: String,
  }).value;
  assert.ok(!html.includes('<script>') && !html.includes('<img'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('class="bar scriptalert1script"'), 'a class from data keeps letters and digits only');
});
