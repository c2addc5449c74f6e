/**
 * Soak: many messages through the real daemon (Dovecot, SMTP capture, podman, the real Claude Code
 * CLI against the mock API with a fast scripted agent), checking that every message becomes exactly
 * one task and one reply, and that the daemon's memory does not grow with the number of tasks.
 *
 *   npm run soak -- [--messages N] [--repos R] [--max-concurrent C] [--timeout-min M] [--no-docs]
 *
 * Defaults: 1,000 messages over 5 repos, max_concurrent 3, give up after 60 minutes. The daemon's
 * resident set size (all threads) is read from /proc after the first 100 tasks finished and again
 * after the run (every reply arrived, then 5 s idle); the run fails when it grew by more than 20 %.
 * Exit status 1 on any failure. Updates the `soak` section of docs/benchmarks.md unless --no-docs.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { runSoak, soakViolations, type SoakResult } from '../test/harness/soak-run.ts';
import { writeDocsSection } from './bench/docs-section.ts';

const MAX_GROWTH = 0.2;

interface Args {
  messages: number;
  repos: number;
  maxConcurrent: number;
  timeoutMin: number;
  docs: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { messages: 1000, repos: 5, maxConcurrent: 3, timeoutMin: 60, docs: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): number => {
      const v = Number(inline ?? argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} needs a positive integer`);
      return v;
    };
    if (flag === '--messages') a.messages = value();
    else if (flag === '--repos') a.repos = value();
    else if (flag === '--max-concurrent') a.maxConcurrent = value();
    else if (flag === '--timeout-min') a.timeoutMin = value();
    else if (flag === '--no-docs') a.docs = false;
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: npm run soak -- [--messages N] [--repos R] [--max-concurrent C] [--timeout-min M] [--no-docs]');
      process.exit(0);
    } else throw new Error(`unknown argument ${flag}`);
  }
  return a;
}

const mib = (b: number | undefined): string => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(1)} MiB`);
const min = (ms: number): string => `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;

function machine(): string {
  let podman = 'podman not found';
  try {
    podman = execFileSync('podman', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as not found */
  }
  return `${os.availableParallelism()} CPUs (\`nproc\`), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${podman}, ${os.type()} ${os.release()}`;
}

function memoryVerdict(r: SoakResult): { growth: number | null; ok: boolean } {
  if (!r.rss.first || !r.rss.end) return { growth: null, ok: false };
  const growth = r.rss.end.rssBytes / r.rss.first.rssBytes - 1;
  return { growth, ok: growth <= MAX_GROWTH };
}

function report(r: SoakResult, args: Args, violations: string[], loadBefore: number[]): string {
  const mem = memoryVerdict(r);
  const finished = (r.statuses['completed'] ?? 0) + (r.statuses['failed'] ?? 0) + (r.statuses['timeout'] ?? 0);
  const perMin = r.durationMs > 0 ? (finished / (r.durationMs / 60_000)).toFixed(1) : 'n/a';
  // The RSS curve in ten steps, to show whether memory levels off or keeps climbing.
  const steps = r.rss.samples.length ? Array.from({ length: 10 }, (_, k) => r.rss.samples[Math.floor(((k + 1) * (r.rss.samples.length - 1)) / 10)]!) : [];
  const curve = steps.map((s) => `${s.finished} tasks: ${mib(s.rssBytes)}`).join(' · ');
  const verdict = violations.length === 0 && mem.ok ? 'passed' : 'FAILED';
  return [
    `## Soak (${args.messages.toLocaleString('en')} messages, ${args.repos} repos)`,
    '',
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- Machine: ${machine()}; load average ${loadBefore.map((l) => l.toFixed(1)).join(' / ')} before, ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} at the end (shared machine: other jobs ran meanwhile)`,
    `- Command: \`npm run soak -- --messages ${args.messages} --repos ${args.repos} --max-concurrent ${args.maxConcurrent}\``,
    `- Set-up: the real daemon (\`max_concurrent: ${args.maxConcurrent}\`, rate limits off, log level info) with Dovecot, the SMTP`,
    '  capture server, podman (`container_network: host`) and the real Claude Code CLI against the mock Anthropic API;',
    '  the agent answers each task with one short text (no tools). Every message starts a new conversation, so each',
    `  gets an acknowledgement and a reply. All ${args.messages} messages are APPENDed up front, round-robin over the inboxes.`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| messages sent / tasks recorded | ${r.messages} / ${r.tasks} |`,
    `| task outcomes | ${Object.entries(r.statuses)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} |`,
    `| final replies / acknowledgements received | ${r.finalReplies} / ${r.acks} |`,
    `| messages lost / with a duplicate task / unanswered / answered twice | ${r.lost.length} / ${r.duplicateTasks.length} / ${r.unanswered.length} / ${r.duplicateReplies.length} |`,
    `| mails left unsent / containers left | ${r.unsentMail} / ${r.leftoverContainers.length} |`,
    `| delivery (APPEND of all messages) | ${min(r.deliveryMs)} |`,
    `| first APPEND → last reply | ${min(r.durationMs)} (${perMin} tasks/min) |`,
    `| per task, accepted → finished: median / p90 | ${(r.taskMs.median / 1000).toFixed(1)} s / ${(r.taskMs.p90 / 1000).toFixed(1)} s (mostly queueing) |`,
    `| per task, started → finished: median / p90 | ${(r.runMs.median / 1000).toFixed(2)} s / ${(r.runMs.p90 / 1000).toFixed(2)} s |`,
    `| **daemon RSS after the first ${r.rss.first?.finished ?? '?'} tasks** | **${mib(r.rss.first?.rssBytes)}** |`,
    `| **daemon RSS after the run** (${r.rss.end?.finished ?? '?'} tasks, 5 s idle) | **${mib(r.rss.end?.rssBytes)}** (${mem.growth === null ? 'n/a' : `${mem.growth >= 0 ? '+' : ''}${(mem.growth * 100).toFixed(1)} %`}) |`,
    `| daemon RSS, highest sample | ${mib(r.rss.max)} |`,
    '',
    `RSS over the run: ${curve || 'no samples'}.`,
    ...(mem.growth !== null && mem.growth < 0
      ? [
          '',
          'RSS went down, not up: the figure after the first 100 tasks still holds the intake of the whole backlog (every message',
          'is APPENDed up front, fetched, parsed and recorded in the first minutes) and thread start-up; after that the curve is flat.',
        ]
      : []),
    '',
    `Result: **${verdict}**. Criteria: every message exactly one task and one final reply, nothing lost, nothing left`,
    `unsent, no container left, a clean exit on SIGTERM, and RSS after the run at most ${MAX_GROWTH * 100} % above RSS after the first`,
    '100 tasks.' + (violations.length ? ` Violations: ${violations.join('; ')}.` : ''),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg();
  console.log(`soak: ${args.messages} messages over ${args.repos} repos, max_concurrent ${args.maxConcurrent}`);
  let lastLine = 0;
  const r = await runSoak({
    messages: args.messages,
    repos: args.repos,
    maxConcurrent: args.maxConcurrent,
    timeoutMs: args.timeoutMin * 60_000,
    onProgress: (p) => {
      if (p.elapsedMs - lastLine < 30_000 && p.finalReplies < args.messages) return;
      lastLine = p.elapsedMs;
      console.log(
        `  ${min(p.elapsedMs)}: accepted ${p.accepted}, finished ${p.finished}, replies ${p.finalReplies}, rss ${mib(p.rssBytes ?? undefined)}`,
      );
    },
  });
  const violations = soakViolations(r);
  const mem = memoryVerdict(r);
  if (!mem.ok) violations.push(mem.growth === null ? 'no memory figures' : `RSS grew by ${(mem.growth * 100).toFixed(1)} % (limit ${MAX_GROWTH * 100} %)`);
  const text = report(r, args, violations, loadBefore);
  console.log(`\n${text}\n`);
  if (args.docs) console.log(`wrote ${writeDocsSection('soak', text)}`);
  if (violations.length) {
    console.error(`soak FAILED:\n  ${violations.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
