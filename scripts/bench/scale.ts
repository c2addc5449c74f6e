/**
 * Benchmark: one daemon serving many repositories on one Dovecot.
 *
 *   node --import tsx scripts/bench/scale.ts [--repos 50,100] [--settle-seconds 60] [--idle-seconds 60] [--no-docs]
 *
 * For each repo count N, a fresh database and N repos, each with its own inbox (IDLE), the
 * dashboard on, log level info — what an operator runs. Measured on the real daemon process:
 *
 * - start-up: spawn → every repo's listener in IDLE (repo_status), i.e. ready for mail;
 * - resident memory (VmRSS of the whole process, all threads) once settled (`--settle-seconds`
 *   after start-up, then the idle window), and its peak (VmHWM);
 * - idle CPU: user + system time of the process over `--idle-seconds` with nothing to do, as a
 *   share of one core;
 * - that every listener really works: one mail APPENDed to each inbox, time until all N are tasks;
 * - SIGTERM → exit.
 *
 * Targets (issue 7, for 100 repos): start under 10 s, under 1.5 GB, under 2 % of one core idle.
 * Prints the numbers and updates its section in docs/benchmarks.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startDovecot, type DovecotServer } from '../../test/harness/dovecot.ts';
import { buildMail, dmarcPass } from '../../test/harness/mail-builder.ts';
import { freePort } from '../../test/harness/ports.ts';
import { PROJECT_ROOT, openTestDb, startDaemon, waitUntil, writeTestConfig, type TestConfig, type TestRepo } from '../../test/harness/daemon-process.ts';
import { writeDocsSection } from './docs-section.ts';
import { fmt, machineLine } from './report.ts';

const AUTHSERV = 'mx.repos.test';
const ALICE = 'alice@example.com';
const TARGET = { startMs: 10_000, rssBytes: 1.5e9, idleCpuPercent: 2 };

function parseArgs(argv: string[]): { counts: number[]; idleSeconds: number; settleSeconds: number; docs: boolean } {
  let counts = [50, 100];
  let idleSeconds = 60;
  let settleSeconds = 60;
  let docs = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--repos') {
      counts = (argv[++i] ?? '').split(',').map(Number);
      if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--repos takes positive integers separated by commas, e.g. 50,100');
    } else if (a === '--idle-seconds') {
      idleSeconds = Number(argv[++i]);
      if (!(idleSeconds >= 5)) throw new Error('--idle-seconds must be at least 5');
    } else if (a === '--settle-seconds') {
      settleSeconds = Number(argv[++i]);
      if (!(settleSeconds >= 0)) throw new Error('--settle-seconds must be a number of seconds');
    } else if (a === '--no-docs') docs = false;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node --import tsx scripts/bench/scale.ts [--repos 50,100] [--settle-seconds 60] [--idle-seconds 60] [--no-docs]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return { counts, idleSeconds, settleSeconds, docs };
}

// ---- /proc readings of the daemon process -------------------------------------------------------

/** VmRSS and VmHWM of a process, in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** User + system CPU seconds the process (all its threads) has used so far. */
function cpuSecondsOf(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the line.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  // Linux reports in USER_HZ, which is 100 on every mainstream architecture.
  return ticks / 100;
}

function threadsOf(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/task`).length;
}

// ---- one run ------------------------------------------------------------------------------------

interface ScaleResult {
  repos: number;
  spawnToAllIdleMs: number;
  spawnToDashboardMs: number;
  rssBytes: number;
  peakRssBytes: number;
  threads: number;
  idleCpuPercent: number;
  idleSeconds: number;
  oneMailEachMs: number;
  stopMs: number;
  exit: number | string;
}

function userOf(i: number): string {
  return `scale${String(i).padStart(3, '0')}-bot`;
}

function readRepoStates(cfg: TestConfig): Map<string, string> {
  if (!fs.existsSync(cfg.dbPath)) return new Map();
  const db = openTestDb(cfg);
  try {
    const rows = db.prepare('SELECT repo_id, state FROM repo_status').all() as Array<{ repo_id: string; state: string }>;
    return new Map(rows.map((r) => [r.repo_id, r.state]));
  } catch {
    return new Map(); // the schema is being created
  } finally {
    db.close();
  }
}

function taskCount(cfg: TestConfig): number {
  const db = openTestDb(cfg);
  try {
    return (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function runScale(dovecot: DovecotServer, count: number, settleSeconds: number, idleSeconds: number): Promise<ScaleResult> {
  const smtpPort = await freePort(); // nothing listens: no reply is sent in this bench
  const dashboardPort = await freePort();
  const repos: TestRepo[] = Array.from({ length: count }, (_, i) => ({
    id: `scale${String(i).padStart(3, '0')}`,
    imapPort: dovecot.port,
    smtpPort,
    user: userOf(i),
    password: `pw-${i}`,
    useIdle: true,
  }));
  const cfg = writeTestConfig({
    repos,
    global: {
      dashboard: { enabled: true, host: '127.0.0.1', port: dashboardPort },
      execution: { max_concurrent: 3, shutdown_timeout: 10 },
    },
  });
  const spawnedAt = Date.now();
  const daemon = startDaemon(cfg, [], { AIRUT_LOG_LEVEL: 'info' });
  const pid = daemon.child.pid!;
  try {
    const spawnToDashboardMs = await waitUntil(
      async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${dashboardPort}/health`);
          await res.body?.cancel();
          return Date.now() - spawnedAt;
        } catch {
          return undefined;
        }
      },
      60_000,
      'the dashboard to answer',
      20,
    );
    const spawnToAllIdleMs = await waitUntil(
      () => {
        const states = readRepoStates(cfg);
        const idle = repos.filter((r) => states.get(r.id) === 'idle').length;
        return idle === count ? Date.now() - spawnedAt : undefined;
      },
      120_000,
      `all ${count} listeners to idle`,
      20,
    );

    // Settle: each thread's V8 keeps collecting and compacting for a while after start-up; the
    // idle figure is about the steady state an operator lives with.
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const cpuBefore = cpuSecondsOf(pid);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const idleCpuPercent = ((cpuSecondsOf(pid) - cpuBefore) / wall) * 100;
    const { rss } = memoryOf(pid);
    const threads = threadsOf(pid);

    // Every listener works: one mail into each inbox, all at once.
    const mailStart = Date.now();
    await Promise.all(
      repos.map((r) =>
        dovecot.append(
          r.user,
          buildMail({
            from: ALICE,
            to: `${r.user}@repos.test`,
            subject: `scale check ${r.id}`,
            text: 'hello',
            messageId: `<scale.${r.id}.${mailStart}@example.com>`,
            authResults: [dmarcPass(AUTHSERV, 'example.com')],
          }),
        ),
      ),
    );
    await waitUntil(() => (taskCount(cfg) >= count ? true : undefined), 120_000, `a task for each of the ${count} repos`, 50);
    const oneMailEachMs = Date.now() - mailStart;
    const { peak } = memoryOf(pid);

    const stopAt = Date.now();
    const exit = await daemon.stop('SIGTERM', 60_000);
    return {
      repos: count,
      spawnToAllIdleMs,
      spawnToDashboardMs,
      rssBytes: rss,
      peakRssBytes: peak,
      threads,
      idleCpuPercent,
      idleSeconds: Math.round(wall),
      oneMailEachMs,
      stopMs: Date.now() - stopAt,
      exit,
    };
  } finally {
    await daemon.stop('SIGKILL');
    fs.rmSync(cfg.dir, { recursive: true, force: true });
  }
}

// ---- main ---------------------------------------------------------------------------------------

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');

async function main(): Promise<void> {
  const { counts, idleSeconds, settleSeconds, docs } = parseArgs(process.argv.slice(2));
  const began = Date.now();
  const most = Math.max(...counts);
  const dovecot = await startDovecot({ users: Array.from({ length: most }, (_, i) => ({ user: userOf(i), password: `pw-${i}` })) });
  const results: ScaleResult[] = [];
  try {
    for (const n of counts) {
      process.stderr.write(`${n} repos…\n`);
      results.push(await runScale(dovecot, n, settleSeconds, idleSeconds));
    }
  } finally {
    await dovecot.stop();
  }

  const header = `| repos | spawn → all listeners in IDLE | spawn → dashboard answers | RSS settled | RSS peak | threads | idle CPU (${idleSeconds} s) | 1 mail per inbox → all tasks | SIGTERM → exit |`;
  const rows = results.map(
    (r) =>
      `| ${r.repos} | ${fmt(r.spawnToAllIdleMs)} ms | ${fmt(r.spawnToDashboardMs)} ms | ${mib(r.rssBytes)} | ${mib(r.peakRssBytes)} | ${r.threads} | ${r.idleCpuPercent.toFixed(2)} % of a core | ${fmt(r.oneMailEachMs)} ms | ${fmt(r.stopMs)} ms (exit ${r.exit}) |`,
  );
  const table = [header, '|---:|---:|---:|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
  const at100 = results.find((r) => r.repos === 100) ?? results[results.length - 1]!;
  const summary =
    `With ${at100.repos} repos: start-up ${fmt(at100.spawnToAllIdleMs)} ms (target < ${TARGET.startMs} ms: ${verdict(at100.spawnToAllIdleMs < TARGET.startMs)}), ` +
    `${mib(at100.rssBytes)} resident (target < 1.5 GB: ${verdict(at100.rssBytes < TARGET.rssBytes)}), ` +
    `${at100.idleCpuPercent.toFixed(2)} % of one core idle (target < ${TARGET.idleCpuPercent} %: ${verdict(at100.idleCpuPercent < TARGET.idleCpuPercent)}).`;
  // What one more repo costs, from the two ends of the run.
  const lo = results[0]!;
  const perRepo =
    results.length > 1 && at100.repos > lo.repos
      ? `Each further repo costs about ${((at100.rssBytes - lo.rssBytes) / (at100.repos - lo.repos) / 2 ** 20).toFixed(1)} MiB settled and ` +
        `${Math.round((at100.spawnToAllIdleMs - lo.spawnToAllIdleMs) / (at100.repos - lo.repos))} ms of start-up (difference between the ${lo.repos}- and ${at100.repos}-repo rows). `
      : '';
  const analysis =
    perRepo +
    'A repo is one listener thread, and a thread is one V8 isolate: about 8 MiB for an empty Node worker, plus its own ' +
    'copy of imapflow, mailparser (with iconv-lite, libmime, html-to-text) and pino, loaded from the listener bundle ' +
    '(`src/supervisor/thread-bundle.ts`). Before the bundle, with tsx in every thread, 20 repos took 1,465 MiB and 12 s to ' +
    'start (~58 MiB and a hidden loader thread per repo). The idle CPU is mostly V8\'s own background work in the ' +
    'isolates (garbage collection and compaction on the platform worker threads, read per thread from `/proc`), which ' +
    'decays in the minutes after start-up, and a NOOP per inbox every 50 s when imapflow probes the quiet IDLE socket; ' +
    'it varies from run to run on a shared machine.';
  const elapsed = Math.round((Date.now() - began) / 1000);
  console.log(`\nScale: one daemon, many repos (${elapsed} s in all)\n`);
  console.log(table);
  console.log(`\n${summary}\n\n${analysis}\n`);

  if (docs) {
    const body = `## Scale (one daemon, ${counts.join(' and ')} repos on one Dovecot)

- Date: ${new Date().toISOString().slice(0, 10)}
- Machine: ${machineLine({ dovecot: true })}
- Command: \`node --import tsx scripts/bench/scale.ts --repos ${counts.join(',')} --settle-seconds ${settleSeconds} --idle-seconds ${idleSeconds}\` (${elapsed} s)
- Set-up: the real daemon (\`npm start\`'s command line, log level info, dashboard on, \`max_concurrent: 3\`), a fresh
  database per row, one inbox per repo on one Dovecot, IDLE. Start-up is measured from process spawn until every repo's
  listener reports IDLE in \`repo_status\` (logged in, inbox drained, waiting for mail). RSS is the whole process (all
  threads) from \`/proc/<pid>/status\`, read after a ${settleSeconds} s settle and the idle window; the peak (VmHWM) is read after the
  mail check. Idle CPU is user + system time from \`/proc/<pid>/stat\` over the idle window, as a share of one core.
  Then one mail is APPENDed to every inbox at once and the time until each is a task row is reported, to show that every
  listener works; the repos' \`repo_url\` does not exist, so those tasks fail fast and their replies stay queued.

${table}

${summary}

${analysis}
`;
    const file = writeDocsSection('scale', body);
    console.log(`updated ${path.relative(PROJECT_ROOT, file)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
