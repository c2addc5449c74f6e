/**
 * Dashboard benchmark: 100,000 tasks across 10 repos (some with events), the dashboard in a child
 * process on an ephemeral port, autocannon with 50 connections for ~10 s against `GET /api/tasks`
 * and `GET /` (the tasks page). Prints p50/p99/rps and rewrites its section of docs/benchmarks.md.
 *
 *   scripts/node --import tsx scripts/bench/dashboard.ts [--duration 10] [--no-docs]
 *   scripts/node --import tsx scripts/bench/dashboard.ts --fill /tmp/bench.db      (just the data)
 *
 * The server runs in its own process so the load generator does not share its event loop.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pino from 'pino';
import { startDashboard } from '../../src/dashboard/server.ts';
import { LiveFeed } from '../../src/feed/live-feed.ts';
import { openDatabase } from '../../src/store/database.ts';
import { config, fill, REPOS, serveDashboard, TASKS } from './dashboard-fixture.ts';

const CONNECTIONS = 50;
const TARGET_P99_MS = 50;
const SECTION_START = '<!-- bench:dashboard:start -->';
const SECTION_END = '<!-- bench:dashboard:end -->';

/** Child mode: serve the dashboard over an existing database, print the URL, run until killed. */
async function serveMode(dbPath: string): Promise<void> {
  const db = openDatabase(dbPath);
  const dash = await startDashboard({
    config: config(dbPath),
    db,
    actions: {
      stopTask: async () => ({ ok: false, status: 'unknown', message: 'benchmark' }),
      submitTask: async () => Promise.reject(new Error('the benchmark submits no tasks')),
    },
    feed: new LiveFeed(),
    log: pino({ level: 'silent' }),
  });
  process.stdout.write(`URL ${dash.url}\n`);
  process.on('SIGTERM', () => void dash.close().then(() => process.exit(0)));
}

interface Measured {
  readonly name: string;
  readonly path: string;
  readonly p50: number;
  readonly p99: number;
  readonly rps: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
}

async function measure(url: string, name: string, p: string, duration: number, vary = false): Promise<Measured> {
  let n = 0;
  const r = await autocannon({
    url: url + p,
    connections: CONNECTIONS,
    duration,
    headers: { accept: p.startsWith('/api') ? 'application/json' : 'text/html' },
    // A different cursor per request defeats the dashboard's 250 ms list cache: the cost of a real query.
    ...(vary ? { requests: [{ setupRequest: (req: any) => ({ ...req, path: `${p}${p.includes('?') ? '&' : '?'}before=${TASKS - (n++ % 90_000)}` }) }] } : {}),
  });
  return { name, path: p, p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, requests: r.requests.total, non2xx: r.non2xx, errors: r.errors };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--serve') return serveMode(args[1]!);
  if (args[0] === '--fill') return fill(args[1]!); // a database to explore by hand
  const durationIdx = args.indexOf('--duration');
  const duration = durationIdx >= 0 ? Number(args[durationIdx + 1]) : 10;
  const writeDocs = !args.includes('--no-docs');

  const loadBefore = os.loadavg();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-bench-'));
  const dbPath = path.join(dir, 'bench.db');
  const t0 = Date.now();
  fill(dbPath);
  console.log(`filled ${TASKS} tasks across ${REPOS} repos in ${Date.now() - t0} ms`);

  const { child, url } = await serveDashboard(dbPath);
  try {
    // Warm up caches (prepared statements, page cache) so the first second does not count.
    await autocannon({ url: url + '/api/tasks', connections: 5, amount: 200 });
    await autocannon({ url: url + '/', connections: 5, amount: 200 });

    const results: Measured[] = [];
    for (const [name, p, vary] of [
      ['JSON task list', '/api/tasks', false],
      ['tasks page (HTML)', '/', false],
      ['JSON, every request a different page (uncached)', '/api/tasks', true],
      ['HTML, every request a different page (uncached)', '/', true],
      ['JSON, repo + status filter, uncached', '/api/tasks?repo=repo-03&status=failed', true],
    ] as const) {
      const m = await measure(url, name, p, duration, vary);
      results.push(m);
      console.log(`${name.padEnd(40)} p50 ${m.p50} ms  p99 ${m.p99} ms  ${Math.round(m.rps)} req/s  (${m.requests} requests, non-2xx ${m.non2xx}, errors ${m.errors})`);
    }
    const t1 = performance.now();
    const metricsRes = await fetch(url + '/metrics');
    await metricsRes.text();
    const metricsMs = Math.round(performance.now() - t1);
    console.log(`single GET /metrics over ${TASKS} tasks: ${metricsMs} ms`);

    // The target is about the two endpoints as users hit them; the uncached rows are for insight.
    const targeted = results.slice(0, 2);
    const pass = targeted.every((r) => r.p99 < TARGET_P99_MS && r.non2xx === 0 && r.errors === 0) && results.every((r) => r.non2xx === 0 && r.errors === 0);
    const verdict = pass
      ? `Target met: p99 under ${TARGET_P99_MS} ms for GET /api/tasks and GET /.`
      : `Target missed: a p99 of GET /api/tasks or GET / is at or over ${TARGET_P99_MS} ms (or requests failed).`;
    console.log(verdict);
    if (writeDocs) updateDocs(results, metricsMs, duration, loadBefore, verdict);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function updateDocs(results: readonly Measured[], metricsMs: number, duration: number, loadBefore: readonly number[], verdict: string): void {
  const file = new URL('../../docs/benchmarks.md', import.meta.url);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const section = [
    SECTION_START,
    '## Dashboard: task list under load',
    '',
    '`scripts/node --import tsx scripts/bench/dashboard.ts` — 100,000 tasks across 10 repos (1,000 of them with 20 events each) in a',
    `temporary SQLite file; the dashboard in its own process; autocannon, ${CONNECTIONS} connections, ${duration} s per endpoint,`,
    `after a short warm-up. Target: p99 under ${TARGET_P99_MS} ms.`,
    '',
    `Last run: ${new Date().toISOString().slice(0, 10)} · \`nproc\` ${os.availableParallelism()} (${cpu}) · Node ${process.version} · ` +
      `load average before the run ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} (the load generator shares the machine)`,
    '',
    'The first two rows are what 50 viewers of the same list see (the dashboard reuses a list body for 250 ms);',
    'the "uncached" rows ask for a different page on every request, so every request runs its query and renders.',
    '',
    '| endpoint | p50 | p99 | req/s |',
    '|---|---|---|---|',
    ...results.map((r) => `| ${r.name} \`GET ${r.path}\` | ${r.p50} ms | ${r.p99} ms | ${Math.round(r.rps)} |`),
    '',
    `A single \`GET /metrics\` (the totals kept by triggers; concurrent scrapes: see the /metrics section): ${metricsMs} ms.`,
    '',
    verdict,
    'Uncached, a request costs about 1 ms of CPU (query ≈ 0.3–0.5 ms, rendering 50 cards ≈ 0.5 ms), so 50 connections on one',
    'server core queue up: p99 there is set by throughput, not by the query. The database side stays flat at 100,000',
    'tasks because every list query is an index range scan by id.',
    SECTION_END,
  ].join('\n');
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\nScripts live in `scripts/bench/`; each rewrites only its own section below.\n';
  const start = text.indexOf(SECTION_START);
  const end = text.indexOf(SECTION_END);
  text = start >= 0 && end > start ? text.slice(0, start) + section + text.slice(end + SECTION_END.length) : `${text.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, text);
  console.log(`updated ${fileURLToPath(file)}`);
}

await main();
