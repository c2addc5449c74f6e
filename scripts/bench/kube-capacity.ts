/**
 * Capacity of one daemon driving the Kubernetes backend (issue 21): many concurrent task pods on the
 * stand-in API server, each pod played in-process by EmulatedPodRunner, so what is measured is the
 * daemon — its memory, CPU and threads per running remote task, and the API calls a task costs.
 *
 *   scripts/node --import tsx scripts/bench/kube-capacity.ts [--tasks N] [--concurrent C] [--hold-ms M] [--repos R] [--workspace-kb K] [--sandbox] [--timeout-min T] [--no-docs]
 *
 * Defaults: 1,000 tasks, max_concurrent 200, each agent holding its pod 3–4.5 min (M = 180000, held
 * for [M, 1.5 M): a short real agent run; shorter holds end pods faster than one coordinator on two
 * CPUs prepares new ones, so 200 would never run at once), 10 repositories with 1 MiB of sources
 * each (--workspace-kb), the network sandbox off (the per-task proxy is its own cost;
 * `--sandbox` measures with it). Fails (exit 1) unless every mail got exactly one task, one
 * acknowledgement and one final reply, every task completed, nothing is left in the API server and
 * the daemon exits 0 on SIGTERM. Rewrites the `kube-capacity` section of docs/benchmarks.md unless
 * --no-docs (and only when the run passed).
 */
import { writeDocsSection } from './docs-section.ts';
import { median, percentile, machineLine } from './report.ts';
import { runCapacity, type CapacityOptions, type CapacityResult } from './kube-capacity-run.ts';

interface Args extends Omit<CapacityOptions, 'timeoutMs' | 'onProgress' | 'daemonLog'> {
  readonly daemonLog: string | undefined;
  readonly timeoutMin: number;
  readonly docs: boolean;
  readonly workspaceKb: number;
}

const USAGE = 'usage: scripts/node --import tsx scripts/bench/kube-capacity.ts [--tasks N] [--concurrent C] [--hold-ms M] [--repos R] [--workspace-kb K] [--sandbox] [--timeout-min T] [--daemon-log FILE] [--no-docs]';

function parseArgs(argv: string[]): Args {
  const a = { tasks: 1000, concurrent: 200, holdMs: 180_000, repos: 10, workspaceKb: 1024, sandbox: false, timeoutMin: 40, docs: true, daemonLog: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): number => {
      const v = Number(inline ?? argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} needs a positive integer`);
      return v;
    };
    if (flag === '--tasks') a.tasks = value();
    else if (flag === '--concurrent') a.concurrent = value();
    else if (flag === '--hold-ms') a.holdMs = value();
    else if (flag === '--repos') a.repos = value();
    else if (flag === '--workspace-kb') a.workspaceKb = value();
    else if (flag === '--timeout-min') a.timeoutMin = value();
    else if (flag === '--sandbox') a.sandbox = true;
    else if (flag === '--daemon-log') a.daemonLog = inline ?? argv[++i];
    else if (flag === '--no-docs') a.docs = false;
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${flag}\n${USAGE}`);
  }
  return a;
}

function violations(r: CapacityResult, a: Args): string[] {
  const v: string[] = [];
  if (r.timedOut) v.push('timed out (or the daemon exited) before every reply arrived');
  if (r.tasks !== a.tasks) v.push(`${r.tasks} tasks for ${a.tasks} mails`);
  if (r.lost) v.push(`${r.lost} mails without a task`);
  if (r.duplicateTasks) v.push(`${r.duplicateTasks} mails with more than one task`);
  if ((r.statuses['completed'] ?? 0) !== a.tasks) v.push(`not all tasks completed: ${JSON.stringify(r.statuses)}`);
  if (r.unanswered) v.push(`${r.unanswered} mails without a final reply`);
  if (r.duplicateReplies) v.push(`${r.duplicateReplies} mails answered more than once`);
  if (r.acks !== a.tasks) v.push(`${r.acks} acknowledgements for ${a.tasks} new conversations`);
  if (r.unsentMail !== 0) v.push(`${r.unsentMail} mails not sent`);
  if (r.leftObjects) v.push(`${r.leftObjects} pods, Secrets or NetworkPolicies left in the API server`);
  if (r.daemonExit !== 0) v.push(`the daemon exited with ${r.daemonExit} on SIGTERM`);
  return v;
}

const mib = (b: number): string => `${Math.round(b / 2 ** 20)} MiB`;
const sec = (ms: number): string => (Number.isNaN(ms) ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/** The figures, as a docs section. */
function report(r: CapacityResult, a: Args, problems: string[]): string {
  const busy = Math.ceil(a.concurrent * 0.75);
  const full = r.samples.filter((s) => s.holding >= busy);
  const peak = (f: (s: CapacityResult['samples'][number]) => number) => Math.max(0, ...r.samples.map(f));
  const calls = [...r.apiCalls].sort((x, y) => y[1] - x[1]);
  const totalCalls = calls.reduce((n, [, c]) => n + c, 0);
  const perTask = (n: number) => (n / a.tasks).toFixed(2);
  const cmd = `scripts/node --import tsx scripts/bench/kube-capacity.ts --tasks ${a.tasks} --concurrent ${a.concurrent} --hold-ms ${a.holdMs} --repos ${a.repos} --workspace-kb ${a.workspaceKb}${a.sandbox ? ' --sandbox' : ''}`;
  return [
    '## Kubernetes backend capacity',
    '',
    `- Date: ${new Date().toISOString().slice(0, 10)}`,
    `- Machine: ${machineLine({ podman: true, dovecot: true })}`,
    `- Command: \`${cmd}\``,
    `- Set-up: the real daemon (child process, \`execution.backend: kubernetes\`, \`max_concurrent: ${a.concurrent}\`, \`AIRUT_SPAWN_HELPER=1\`, rate limits`,
    `  off, log level info) against the stand-in API server (test/harness/kube/), driven by the real @kubernetes/client-node;`,
    '  each pod is played in-process by `EmulatedPodRunner`: it fetches the state bundle from the daemon\'s pod gateway,',
    `  holds the pod ${sec(a.holdMs)}–${sec(a.holdMs * 1.5)} (uniform), logs a successful stream-json run and posts the state back. ${a.tasks.toLocaleString('en')} new`,
    `  conversations over ${a.repos} repositories (each ${a.workspaceKb} KiB of sources in 4 KiB files and a one-file image context: every`,
    '  task clones the workspace and ships it to the pod and back through the daemon, so the cost per task grows with it),',
    '  all APPENDed up front to a real Dovecot; acknowledgements and replies to the SMTP',
    '  capture server; the repository image and the tools image (busybox, Claude Code, pod-entry.sh) built with podman and',
    `  pushed to a local registry. Network sandbox **${a.sandbox ? 'on' : 'off'}**${a.sandbox ? '' : ' (the per-task proxy is measured apart, `--sandbox`)'}. What the cluster spends is not here: only the coordinator.`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| mails / tasks / completed | ${a.tasks} / ${r.tasks} / ${r.statuses['completed'] ?? 0} |`,
    `| lost / duplicate tasks / unanswered / answered twice / acks | ${r.lost} / ${r.duplicateTasks} / ${r.unanswered} / ${r.duplicateReplies} / ${r.acks} |`,
    `| **peak concurrent running tasks** (agents inside their hold; pods in the API server; DB \`running\`) | **${peak((s) => s.holding)}**; ${peak((s) => s.pods)}; ${peak((s) => s.running)} |`,
    `| seconds with ≥ ${busy} agents running | ${full.length} |`,
    `| **daemon RSS** while ≥ ${busy} run: median / peak | **${full.length ? mib(median(full.map((s) => s.rssBytes))) : 'n/a'}** / ${full.length ? mib(Math.max(...full.map((s) => s.rssBytes))) : 'n/a'} |`,
    `| daemon RSS, peak over the run | ${mib(peak((s) => s.rssBytes))} |`,
    `| daemon threads, peak | ${peak((s) => s.threads)} |`,
    `| **daemon CPU per task** (utime+stime, whole process / main thread) | **${((r.cpu.process / a.tasks) * 1000).toFixed(0)} ms** / ${((r.cpu.mainThread / a.tasks) * 1000).toFixed(0)} ms |`,
    `| daemon CPU over the run; its children (podman builds and pushes) apart | ${r.cpu.process.toFixed(1)} s; ${r.cpu.children.toFixed(1)} s |`,
    `| **API calls per task** (${totalCalls} in all) | **${perTask(totalCalls)}** |`,
    `| API calls per task by verb | ${calls.map(([k, n]) => `${k} ${perTask(n)}`).join(', ')} |`,
    `| wall time, first APPEND → last reply (APPEND of all: ${sec(r.deliveryMs)}) | ${sec(r.wallMs)} |`,
    `| per task, accepted → started: median / p90 | ${sec(median(r.queueMs))} / ${sec(percentile(r.queueMs, 90))} |`,
    `| per task, started → finished: median / p90 (hold included) | ${sec(median(r.runMs))} / ${sec(percentile(r.runMs, 90))} |`,
    '',
    `Result: **${problems.length ? 'FAILED' : 'passed'}**: every mail exactly one task, one acknowledgement and one final reply, every task`,
    'completed, no pod, Secret or NetworkPolicy left, a clean exit on SIGTERM.' + (problems.length ? ` Violations: ${problems.join('; ')}.` : ''),
  ].join('\n');
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  console.log(`kube-capacity: ${a.tasks} tasks over ${a.repos} repos, max_concurrent ${a.concurrent}, hold ${a.holdMs}–${a.holdMs * 1.5} ms, sandbox ${a.sandbox ? 'on' : 'off'}`);
  const { daemonLog, ...rest } = a;
  const r = await runCapacity({ ...rest, ...(daemonLog ? { daemonLog } : {}), timeoutMs: a.timeoutMin * 60_000, onProgress: (line) => console.log(line) });
  const problems = violations(r, a);
  const text = report(r, a, problems);
  console.log(`\n${text}\n`);
  if (a.docs && problems.length === 0) console.log(`wrote ${writeDocsSection('kube-capacity', text)}`);
  if (problems.length) {
    console.error(`kube-capacity FAILED:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
