/**
 * Benchmark: where one repository listener's memory goes.
 *
 *   scripts/node --import tsx scripts/bench/listener-isolate.ts [--repos 20] [--settle-seconds 20] [--poll-interval 30] [--no-docs]
 *
 * Starts `--repos` real listener threads (the daemon's bundle, RepoWorker) against one Dovecot, in
 * this process, with no dashboard, runner or database, and waits until every one is in IDLE. Then:
 *
 * - what the bundle every thread loads is made of, by package (bytes of source; every isolate
 *   holds the whole text, and V8 compiles from it);
 * - CPU used per listener from its start until IDLE (this process's; Dovecot's own is not counted);
 * - idle CPU of the process over a minute after they settled (this bench's main thread does nothing then);
 * - resident memory added per listener (process RSS before the threads and after they settled);
 * - each isolate's V8 heap (used, total, external), the mean over the threads;
 * - one isolate's heap snapshot, summed by kind of object and by the largest constructors;
 * - the floor under a listener: what as many empty worker threads (a listener's resource limits)
 *   add to the process, before and after the collection an idle listener runs (heap-trim.ts).
 *
 * Prints the numbers and updates its section in docs/benchmarks.md. The whole daemon at scale is
 * measured by scale.ts; this one says where a listener's share of it goes.
 */
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { loadServerConfig } from '../../src/config/index.ts';
import { logger } from '../../src/log/logger.ts';
import type { ListenerStatus } from '../../src/protocol/listener-status.ts';
import type { SupervisorApi } from '../../src/protocol/listener.ts';
import { Worker } from 'node:worker_threads';
import { LISTENER_ENTRY, LISTENER_RESOURCE_LIMITS, RepoWorker } from '../../src/supervisor/repo-worker.ts';
import { exposeGcToThreads } from '../../src/threads/heap-trim.ts';
import { ThreadBundles } from '../../src/threads/bundle.ts';
import { startDovecot } from '../../test/harness/dovecot.ts';
import { waitUntil, writeTestConfig } from '../../test/harness/daemon-process.ts';
import { writeDocsSection } from './docs-section.ts';
import { machineLine } from './report.ts';

function parseArgs(argv: string[]): { repos: number; settleSeconds: number; pollInterval: number; docs: boolean } {
  let repos = 20;
  let pollInterval = 30;
  let settleSeconds = 20;
  let docs = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--repos') repos = Number(argv[++i]);
    else if (a === '--settle-seconds') settleSeconds = Number(argv[++i]);
    else if (a === '--poll-interval') pollInterval = Number(argv[++i]);
    else if (a === '--no-docs') docs = false;
    else if (a === '--help' || a === '-h') {
      console.log('usage: scripts/node --import tsx scripts/bench/listener-isolate.ts [--repos 20] [--settle-seconds 20] [--poll-interval 30] [--no-docs]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(repos) || repos < 1) throw new Error('--repos takes a positive integer');
  if (!(settleSeconds >= 0)) throw new Error('--settle-seconds takes a number of seconds');
  if (!(pollInterval >= 1)) throw new Error('--poll-interval takes seconds');
  return { repos, settleSeconds, pollInterval, docs };
}

/** The window over which idle CPU is measured, after the settle time. */
const IDLE_WINDOW_S = 60;
const KIB = 1024;
const MIB = 1024 * 1024;
const mib = (n: number) => `${(n / MIB).toFixed(2)} MiB`;
const kib = (n: number) => `${Math.round(n / KIB)} KiB`;

/**
 * An empty worker thread that runs, when asked, the collection an idle listener runs
 * (src/threads/heap-trim.ts; plain JavaScript, as an eval'd worker cannot load TypeScript).
 */
const EMPTY_WORKER = `
const { parentPort } = require('node:worker_threads');
const { runInNewContext } = require('node:vm');
parentPort.on('message', () => {
  runInNewContext('gc')({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  parentPort.postMessage('trimmed');
});
parentPort.postMessage('ready');
`;

/** Resident memory `count` empty worker threads add, settled and after each trimmed its heap. */
async function emptyWorkerFloor(count: number): Promise<{ settled: number; trimmed: number }> {
  exposeGcToThreads();
  const message = (w: Worker) => new Promise((r) => w.once('message', r));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const base = rssBytes();
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const w = new Worker(EMPTY_WORKER, { eval: true, resourceLimits: LISTENER_RESOURCE_LIMITS });
      workers.push(w);
      await message(w);
    }
    await sleep(3000);
    const settled = (rssBytes() - base) / count;
    for (const w of workers) {
      w.postMessage('trim');
      await message(w);
    }
    await sleep(3000);
    return { settled, trimmed: (rssBytes() - base) / count };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function rssBytes(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * KIB;
}

/** Source bytes per npm package (or per folder of this project). */
function byPackage(inputBytes: ReadonlyMap<string, number>): Array<[string, number]> {
  const sums = new Map<string, number>();
  for (const [file, bytes] of inputBytes) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? m[1]! : file.split('/').slice(0, 2).join('/');
    sums.set(key, (sums.get(key) ?? 0) + bytes);
  }
  return [...sums].sort((a, b) => b[1] - a[1]);
}

interface SnapshotSummary {
  readonly total: number;
  readonly byType: Array<[string, number]>;
  readonly byName: Array<[string, number]>;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Sums a V8 heap snapshot's self sizes by node type, and by constructor/kind name for objects, code and arrays. */
function summarise(json: string): SnapshotSummary {
  const snap = JSON.parse(json) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byType = new Map<string, number>();
  const byName = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const size = snap.nodes[i + sizeAt]!;
    total += size;
    byType.set(type, (byType.get(type) ?? 0) + size);
    if (type === 'string' && size > 16 * KIB) {
      const raw = snap.strings[snap.nodes[i + nameAt]!] ?? '?';
      const name = `string: ${JSON.stringify(raw.slice(0, 40))}`;
      byName.set(name, (byName.get(name) ?? 0) + size);
    } else if (type === 'object' || type === 'code' || type === 'array' || type === 'hidden' || type === 'closure') {
      // Code objects are named after their function or kind ("(BytecodeArray)", "system / …"): group the long tail.
      const raw = snap.strings[snap.nodes[i + nameAt]!] ?? '?';
      const name = `${type}: ${raw.length > 60 ? raw.slice(0, 57) + '…' : raw}`;
      byName.set(name, (byName.get(name) ?? 0) + size);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { total, byType: sorted(byType), byName: sorted(byName).slice(0, 12) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const users = Array.from({ length: args.repos }, (_, i) => ({ user: `iso${i}-bot`, password: `pw-${i}` }));
  const dovecot = await startDovecot({ users });
  const cfg = writeTestConfig({
    repos: users.map((u, i) => ({ id: `iso${i}`, imapPort: dovecot.port, user: u.user, password: u.password, useIdle: true, pollInterval: args.pollInterval })),
  });
  const config = loadServerConfig(cfg.configPath, { ...process.env, ...cfg.env });
  const bundles = new ThreadBundles();
  const workers: RepoWorker[] = [];
  const states = new Map<string, string>();
  try {
    const entry = await bundles.bundle(LISTENER_ENTRY);
    const composition = byPackage(await bundles.inputBytes(LISTENER_ENTRY));
    const bundleBytes = composition.reduce((a, [, b]) => a + b, 0);
    // Let the main thread's own start-up garbage go before the baseline.
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 2000));
    const rssBefore = rssBytes();
    const spawnedAt = Date.now();
    const cpuBefore = process.cpuUsage();
    for (const repo of Object.values(config.repos)) {
      const api: SupervisorApi = {
        acceptBatch: () => Promise.reject(new Error('this bench appends no mail')),
        reportStatus: (s: ListenerStatus) => void states.set(repo.repoId, s.state),
      };
      const w = new RepoWorker({ repo, api, log: logger().child({ repo: repo.repoId }), entry });
      workers.push(w);
      w.start();
    }
    await waitUntil(() => [...states.values()].filter((s) => s === 'idle').length === args.repos, 120_000, 'every listener in IDLE');
    const allIdleMs = Date.now() - spawnedAt;
    const cpu = process.cpuUsage(cpuBefore);
    const startCpuMs = (cpu.user + cpu.system) / 1000 / args.repos;
    await new Promise((r) => setTimeout(r, args.settleSeconds * 1000));
    const rssAfter = rssBytes();
    const idleFrom = process.cpuUsage();
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_S * 1000));
    const idle = process.cpuUsage(idleFrom);
    const idlePercent = ((idle.user + idle.system) / 1e6 / IDLE_WINDOW_S) * 100;
    const heaps = (await Promise.all(workers.map((w) => w.heapStatistics()))).filter((h) => h !== null);
    const mean = (f: (h: (typeof heaps)[number]) => number) => heaps.reduce((a, h) => a + f(h), 0) / Math.max(1, heaps.length);
    const snapshotStream = await workers[0]!.heapSnapshot();
    const summary = snapshotStream ? summarise(await readAll(snapshotStream)) : null;

    const perListener = (rssAfter - rssBefore) / args.repos;
    const lines: string[] = [];
    lines.push(`${args.repos} listeners in IDLE after ${allIdleMs} ms, ${Math.round(startCpuMs)} ms of CPU each (process, spawn → IDLE); resident memory added per listener: ${mib(perListener)}`);
    lines.push(`idle CPU over ${IDLE_WINDOW_S} s after that: ${idlePercent.toFixed(2)} % of one core for ${args.repos} listeners (${(idlePercent / args.repos).toFixed(4)} % each)`);
    lines.push(
      `V8 heap per isolate (mean of ${heaps.length}): used ${mib(mean((h) => h.used_heap_size))}, total ${mib(mean((h) => h.total_heap_size))}, ` +
        `external ${mib(mean((h) => h.external_memory ?? 0))}, malloced ${mib(mean((h) => h.malloced_memory))}`,
    );
    lines.push(`bundle: ${kib(bundleBytes)} of source; the largest parts: ${composition.slice(0, 10).map(([k, b]) => `${k} ${kib(b)}`).join(', ')}`);
    if (summary) {
      lines.push(`one isolate's heap snapshot, ${mib(summary.total)} in all, by kind: ${summary.byType.slice(0, 8).map(([k, b]) => `${k} ${kib(b)}`).join(', ')}`);
      lines.push(`the largest groups: ${summary.byName.map(([k, b]) => `${k} ${kib(b)}`).join('; ')}`);
    }
    // Measured last, beside the listeners: threads that ended do not always give their memory back.
    const floor = await emptyWorkerFloor(args.repos);
    lines.push(
      `the floor under a listener: ${args.repos} empty worker threads (a listener's resource limits) add ${mib(floor.settled)} each, ` +
        `${mib(floor.trimmed)} each after the collection an idle listener runs`,
    );
    for (const l of lines) console.log(l);
    if (args.docs) writeDocs(args, lines, Math.round((Date.now() - started) / 1000));
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    bundles.dispose();
    await dovecot.stop();
  }
}

function writeDocs(args: { repos: number; settleSeconds: number }, lines: readonly string[], seconds: number): void {
  const body = [
    '## Listener isolate: where one repository listener’s memory goes',
    '',
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- Machine: ${machineLine({ dovecot: true })}`,
    `- Command: \`node --import tsx scripts/bench/listener-isolate.ts --repos ${args.repos} --settle-seconds ${args.settleSeconds}\` (${seconds} s)`,
    '- Set-up: real listener threads (the daemon\'s bundle, started by RepoWorker as the supervisor does) against one',
    '  Dovecot, IDLE, in the bench process; no dashboard, runner or database. RSS is the process\'s, before the threads',
    '  and after they settled; heap figures are V8\'s per isolate (`Worker#getHeapStatistics`, `getHeapSnapshot`).',
    '',
    ...lines.map((l) => `- ${l}`),
  ];
  writeDocsSection('listener-isolate', body.join('\n'));
}

await main();
