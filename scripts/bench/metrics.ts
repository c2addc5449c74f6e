/**
 * /metrics benchmark: the dashboard benchmark's 100,000 tasks across 10 repositories, the real
 * dashboard in a child process (dashboard.ts --serve), SCRAPERS concurrent clients each scraping
 * `GET /metrics` back to back for `--duration` seconds. Prints p50/p95/p99 and rewrites its section
 * of docs/benchmarks.md. "Before" is the from-scratch computation /metrics ran until migration 20
 * (src/dashboard/metrics-recount.ts), timed in this process, one at a time, over the same database.
 * The dashboard reuses a body while the database is unchanged, so the scrapers run twice: over a
 * quiet database (mostly reuse), and with a write committed by another connection before every
 * scrape, as on a busy daemon (nearly every scrape computes its body).
 *
 *   scripts/node --import tsx scripts/bench/metrics.ts [--duration 10] [--no-docs]
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { collectMetrics, renderMetrics, snapshotFromFigures } from '../../src/dashboard/metrics.ts';
import { recountMetricFigures } from '../../src/dashboard/metrics-recount.ts';
import { openDatabase } from '../../src/store/database.ts';
import { fill, repoIds, REPOS, serveDashboard, TASKS } from './dashboard-fixture.ts';
import { fmt, machineLine, percentile } from './report.ts';
import { writeDocsSection } from './docs-section.ts';

const SCRAPERS = 10;
const TARGET_P99_MS = 50;
const BEFORE_RUNS = 10;

interface Timings {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly n: number;
}

function summarise(ms: readonly number[]): Timings {
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99), n: ms.length };
}

// node:http with keep-alive rather than fetch: fetch's per-response overhead in this process (which shares the two
// CPUs with the server) showed up as server latency.
const agent = new http.Agent({ keepAlive: true, maxSockets: SCRAPERS });

function get(url: string): Promise<{ status: number; length: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let length = 0;
        res.on('data', (chunk: Buffer) => (length += chunk.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Each scraper sends its next request when the previous answer is read. */
async function scrape(url: string, seconds: number, beforeEach: () => void = () => {}): Promise<{ timings: Timings; failures: number; bytes: number }> {
  const until = performance.now() + seconds * 1000;
  const ms: number[] = [];
  let failures = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: SCRAPERS }, async () => {
      while (performance.now() < until) {
        beforeEach();
        const t = performance.now();
        const { status, length } = await get(url + '/metrics');
        ms.push(performance.now() - t);
        if (status !== 200) failures++;
        bytes = length;
      }
    }),
  );
  return { timings: summarise(ms), failures, bytes };
}

/** Every scrape follows a write committed by another connection, so nearly every one computes its body. */
async function scrapeWhileWriting(url: string, dbPath: string, seconds: number): Promise<{ served: Awaited<ReturnType<typeof scrape>>; writes: number }> {
  const db = openDatabase(dbPath);
  db.pragma('synchronous = NORMAL');
  const touch = db.prepare(`UPDATE tasks SET lease_until = ? WHERE id = (SELECT max(id) FROM tasks)`);
  let writes = 0;
  try {
    const served = await scrape(url, seconds, () => {
      touch.run(Date.now());
      writes++;
    });
    return { served, writes };
  } finally {
    db.close();
  }
}

/** The same work a scrape did before migration 20, and what it does now, in this process, one at a time. */
function inProcess(dbPath: string): { before: Timings; after: Timings } {
  const db = openDatabase(dbPath, { readonly: true });
  const time = (f: () => void, runs: number): Timings => {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      f();
      ms.push(performance.now() - t);
    }
    return summarise(ms);
  };
  const before = time(() => renderMetrics(snapshotFromFigures(recountMetricFigures(db), new Map(), repoIds)), BEFORE_RUNS);
  const after = time(() => renderMetrics(collectMetrics(db, repoIds)), 200);
  db.close();
  return { before, after };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const durationIdx = args.indexOf('--duration');
  const duration = durationIdx >= 0 ? Number(args[durationIdx + 1]) : 10;
  const writeDocs = !args.includes('--no-docs');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-bench-metrics-'));
  const dbPath = path.join(dir, 'bench.db');
  fill(dbPath);
  console.log(`filled ${TASKS} tasks across ${REPOS} repos`);
  const { child, url } = await serveDashboard(dbPath);
  try {
    await scrape(url, 1); // warm-up: prepared statements, page cache
    const served = await scrape(url, duration);
    const t = served.timings;
    console.log(`GET /metrics, ${SCRAPERS} scrapers, ${duration} s, quiet: p50 ${fmt(t.p50)} ms  p95 ${fmt(t.p95)} ms  p99 ${fmt(t.p99)} ms  (${t.n} scrapes, ${served.failures} failed, ${served.bytes} bytes)`);
    const busy = await scrapeWhileWriting(url, dbPath, duration);
    const w = busy.served.timings;
    console.log(`GET /metrics, ${SCRAPERS} scrapers, ${duration} s, ${busy.writes} writes: p50 ${fmt(w.p50)} ms  p95 ${fmt(w.p95)} ms  p99 ${fmt(w.p99)} ms  (${w.n} scrapes, ${busy.served.failures} failed)`);
    const local = inProcess(dbPath);
    console.log(`in process, one at a time: before (recount) p50 ${fmt(local.before.p50)} ms, max of ${BEFORE_RUNS} ${fmt(local.before.p99)} ms; now p50 ${local.after.p50.toFixed(2)} ms, p99 ${local.after.p99.toFixed(2)} ms`);
    const met = Math.max(t.p99, w.p99) < TARGET_P99_MS && served.failures + busy.served.failures === 0;
    const verdict = met ? `Target met: p99 under ${TARGET_P99_MS} ms.` : `Target missed: p99 at or over ${TARGET_P99_MS} ms, or scrapes failed.`;
    console.log(verdict);
    if (!writeDocs) return;
    const file = writeDocsSection(
      'metrics',
      [
        '## /metrics under concurrent scrapes',
        '',
        `\`scripts/node --import tsx scripts/bench/metrics.ts --duration ${duration}\` — the dashboard benchmark's ${TASKS.toLocaleString('en')} tasks across ${REPOS}`,
        `repositories; the real dashboard in its own process; ${SCRAPERS} clients scraping \`GET /metrics\` back to back for ${duration} s after a`,
        `1 s warm-up. Target: p99 under ${TARGET_P99_MS} ms.`,
        '',
        `- Date: ${new Date().toISOString().slice(0, 10)}`,
        `- Machine: ${machineLine()}; other helpers' builds and tests ran on it at the same time`,
        '',
        '| | p50 | p95 | p99 | scrapes |',
        '|---|---:|---:|---:|---:|',
        `| \`GET /metrics\`, ${SCRAPERS} concurrent scrapers, quiet database (ms) | ${fmt(t.p50)} | ${fmt(t.p95)} | ${fmt(t.p99)} | ${t.n} |`,
        `| \`GET /metrics\`, ${SCRAPERS} concurrent scrapers, each scrape after a write by another connection (ms) | ${fmt(w.p50)} | ${fmt(w.p95)} | ${fmt(w.p99)} | ${w.n} |`,
        `| in process, one at a time: reading the totals and rendering (ms) | ${local.after.p50.toFixed(2)} | ${local.after.p95.toFixed(2)} | ${local.after.p99.toFixed(2)} | ${local.after.n} |`,
        `| before: in process, one at a time, counting the tasks table (ms) | ${fmt(local.before.p50)} | ${fmt(local.before.p95)} | ${fmt(local.before.p99)} | ${local.before.n} |`,
        '',
        verdict,
        'A scrape reads the totals migration 20\'s triggers keep (a few rows per repository), so its cost does not grow with the',
        'tasks table; the "before" row is the from-scratch count /metrics did until then (src/dashboard/metrics-recount.ts), which',
        'walks the table twice. The dashboard reuses the last body until the database changes (SQLite `data_version` and',
        '`total_changes()`), so on a quiet database concurrent scrapes share one computation; in the second row a write',
        'precedes every scrape, so nearly every scrape computes its own. The body is ~95 KB (970 spend series: 97 senders × 10 repositories).',
        'On the shared 2-CPU machine that p99 moved by about 15 ms between runs (44 and 57 ms seen at load average ~5): CPU',
        'contention, not the size of the tasks table.',
      ].join('\n'),
    );
    console.log(`updated ${file}`);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
