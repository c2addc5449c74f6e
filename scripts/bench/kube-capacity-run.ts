/**
 * One run of the Kubernetes capacity bench (scripts/bench/kube-capacity.ts): the real daemon as a
 * child process with `execution.backend: kubernetes` against the stand-in API server in this
 * process, whose pods are played by EmulatedPodRunner (the pod-entry.sh protocol: the state bundle
 * fetched from the daemon's pod gateway, the agent held for a while, `successLines()` logged, the
 * state posted back). Real Dovecot, the SMTP capture server, a real registry for the images.
 * Samples the daemon from /proc every second and counts what came back; judging is the caller's.
 */
import fs from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { buildMail, dmarcPass } from '../../test/harness/mail-builder.ts';
import { AUTHSERV, ALICE, isAck, readDb, startE2eEnv, type E2eEnv } from '../../test/harness/e2e-env.ts';
import type { TestConfig } from '../../test/harness/daemon-process.ts';
import { freePort } from '../../test/harness/ports.ts';
import { LocalRegistry } from '../../test/harness/registry.ts';
import { exitTempDir } from '../../test/harness/temp-dirs.ts';
import { KubeStandIn } from '../../test/harness/kube/stand-in.ts';
import { EmulatedPodRunner, successLines } from '../../test/harness/kube/emulated-pod-runner.ts';

export interface CapacityOptions {
  readonly tasks: number;
  readonly concurrent: number;
  readonly repos: number;
  /** Sources in each repository's workspace, KiB (in 4 KiB files). */
  readonly workspaceKb: number;
  /** Each agent holds its pod for a uniform random time in [holdMs, 1.5 × holdMs). */
  readonly holdMs: number;
  readonly sandbox: boolean;
  readonly timeoutMs: number;
  /** Where to write the daemon's log lines at the end (for diagnosis), if anywhere. */
  readonly daemonLog?: string;
  readonly onProgress?: (line: string) => void;
}

export interface Sample {
  readonly elapsedMs: number;
  /** Agents inside their hold (the pod's agent container is running). */
  readonly holding: number;
  /** Pods in the stand-in (any phase). */
  readonly pods: number;
  /** Task rows with status running. */
  readonly running: number;
  readonly rssBytes: number;
  readonly threads: number;
}

export interface CapacityResult {
  readonly samples: readonly Sample[];
  /** Daemon CPU seconds (utime + stime) over the run: whole process, its main thread; children's (podman builds) apart. */
  readonly cpu: { readonly process: number; readonly mainThread: number; readonly children: number };
  readonly apiCalls: ReadonlyMap<string, number>;
  readonly wallMs: number;
  readonly deliveryMs: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly tasks: number;
  readonly lost: number;
  readonly duplicateTasks: number;
  readonly unanswered: number;
  readonly duplicateReplies: number;
  readonly acks: number;
  readonly unsentMail: number;
  readonly leftObjects: number;
  readonly timedOut: boolean;
  readonly daemonExit: number | string;
  /** Per task from the database, ms: accepted → started, started → finished. */
  readonly queueMs: readonly number[];
  readonly runMs: readonly number[];
}

// ---- /proc readings ---------------------------------------------------------------------------------

function statusField(pid: number, key: string): number {
  try {
    return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** utime+stime and cutime+cstime of a /proc stat file, in seconds (USER_HZ is 100 on mainstream Linux). */
function cpuOf(statFile: string): { own: number; children: number } {
  const fields = fs.readFileSync(statFile, 'utf8');
  const f = fields.slice(fields.lastIndexOf(')') + 2).split(' ').map(Number);
  return { own: (f[11]! + f[12]!) / 100, children: (f[13]! + f[14]!) / 100 };
}

function cpuNow(pid: number): { process: number; mainThread: number; children: number } {
  const p = cpuOf(`/proc/${pid}/stat`);
  return { process: p.own, mainThread: cpuOf(`/proc/${pid}/task/${pid}/stat`).own, children: p.children };
}

// ---- set-up -------------------------------------------------------------------------------------------

function repoYaml(sandbox: boolean): string {
  return `default_model: sonnet\ntimeout: 600\nnetwork:\n  sandbox_enabled: ${sandbox}\n`;
}

const ALLOWLIST = 'url_prefixes:\n  - host: api.anthropic.com\n    path: /v1/messages*\n    methods: [POST]\n';

async function kubeGlobal(o: CapacityOptions, standIn: KubeStandIn, registry: LocalRegistry): Promise<Record<string, unknown>> {
  return {
    execution: { backend: 'kubernetes', max_concurrent: o.concurrent, shutdown_timeout: 30 },
    // One sender sends everything: the per-sender and per-repo rate limits would refuse most of it.
    limits: { tasks_per_hour: null, tasks_per_sender_per_hour: null },
    kubernetes: {
      kubeconfig: await standIn.writeKubeconfig(exitTempDir('airut-kube-bench-')),
      namespace: standIn.namespace,
      registry: `${registry.address}/airut`,
      registry_tls_verify: false,
      gateway: { listen_host: '127.0.0.1', listen_port: await freePort(), advertise_address: '127.0.0.1' },
    },
  };
}

/** The pods' agent: holds its pod, then answers as a successful Claude run would. */
function holdingAgent(holdMs: number, counter: { holding: number }): EmulatedPodRunner {
  return new EmulatedPodRunner(async ({ signal }) => {
    counter.holding++;
    try {
      const ms = holdMs + Math.random() * holdMs * 0.5;
      const held = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(true), ms);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve(false)), { once: true });
      });
      return held ? { lines: successLines(randomUUID(), 'done'), exitCode: 0 } : { lines: [], exitCode: 143, skipUpload: true };
    } finally {
      counter.holding--;
    }
  });
}

async function deliver(env: E2eEnv, repoIds: string[], tasks: number, tag: string): Promise<string[]> {
  const clients = await Promise.all(repoIds.map((id) => env.dovecot.connect(`${id}-bot`)));
  const sent: string[] = [];
  try {
    for (let i = 0; i < tasks; i++) {
      const r = i % repoIds.length;
      const messageId = `<kcap.${i}.${tag}@example.com>`;
      sent.push(messageId);
      const raw = buildMail({ from: ALICE, to: `${repoIds[r]}-bot@repos.test`, subject: `capacity ${i}`, text: `capacity task ${i}`, messageId, authResults: [dmarcPass(AUTHSERV, 'example.com')] });
      if ((await clients[r]!.append('INBOX', raw)) === false) throw new Error(`APPEND of message ${i} failed`);
    }
  } finally {
    await Promise.allSettled(clients.map((c) => c.logout()));
  }
  return sent;
}

// ---- the repositories -----------------------------------------------------------------------------

/** Emulated pods never start the image: it only has to build and push, so it holds one small file. */
const SMALL_CONTEXT = { Dockerfile: 'FROM scratch\nCOPY marker /marker\n', marker: 'kube-capacity\n' };

/** `kb` KiB of text sources in 4 KiB files, different per repository (so no two packs are alike), hardly compressible. */
function sources(repoId: string, kb: number): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i * 4 < kb; i++) {
    files[`src/${repoId}/file-${String(i).padStart(4, '0')}.txt`] = randomBytes(3 * 1024).toString('base64').replace(/(.{76})/g, '$1\n');
  }
  return files;
}

// ---- the run ------------------------------------------------------------------------------------------

export async function runCapacity(o: CapacityOptions): Promise<CapacityResult> {
  const repoIds = Array.from({ length: o.repos }, (_, i) => `kcap${i + 1}`);
  const counter = { holding: 0 };
  const env = await startE2eEnv({ repoIds });
  const registry = await LocalRegistry.start();
  const standIn = await KubeStandIn.start({ runner: holdingAgent(o.holdMs, counter) });
  try {
    const repos = await Promise.all(
      repoIds.map((id) =>
        env.repo(id, repoYaml(o.sandbox), {
          extraFiles: { ...sources(id, o.workspaceKb), ...(o.sandbox ? { '.airut/network-allowlist.yaml': ALLOWLIST } : {}) },
          containerContext: SMALL_CONTEXT,
        }),
      ),
    );
    const { cfg, daemon } = env.daemonWith(repos, o.concurrent, await kubeGlobal(o, standIn, registry), {
      AIRUT_LOG_LEVEL: 'info',
      // What a coordinator of hundreds of remote tasks should run with (src/os/spawn-helper.ts).
      AIRUT_SPAWN_HELPER: '1',
    });
    try {
      await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 120_000, 'the daemon to start');
      const pid = daemon.child.pid!;
      const cpu0 = cpuNow(pid);
      const started = Date.now();
      const sent = await deliver(env, repoIds, o.tasks, started.toString(36));
      const deliveryMs = Date.now() - started;
      const sentSet = new Set(sent);
      const finals = () => env.smtp.messages.filter((m) => m.inReplyTo !== undefined && sentSet.has(m.inReplyTo) && !isAck(m));
      const { samples, timedOut } = await sample(o, cfg, pid, started, counter, standIn, () => finals().length, () => daemon.child.exitCode !== null || daemon.child.signalCode !== null);
      const wallMs = Date.now() - started;
      const cpu1 = cpuNow(pid);
      // Late duplicates would show now; the outbox and the pods' deletion settle.
      await new Promise((r) => setTimeout(r, 5_000));
      const counted = count(cfg, sent, sentSet, env);
      const leftObjects = standIn.objects('pod').length + standIn.objects('secret').length + standIn.objects('networkpolicy').length;
      const daemonExit = await daemon.stop('SIGTERM', 60_000);
      return {
        samples,
        cpu: { process: cpu1.process - cpu0.process, mainThread: cpu1.mainThread - cpu0.mainThread, children: cpu1.children - cpu0.children },
        apiCalls: new Map(standIn.requests),
        wallMs,
        deliveryMs,
        leftObjects,
        timedOut,
        daemonExit,
        ...counted,
      };
    } finally {
      await daemon.stop('SIGKILL');
      if (o.daemonLog) fs.writeFileSync(o.daemonLog, [...daemon.logs.map((l) => JSON.stringify(l)), ...daemon.otherOutput].join('\n') + '\n');
    }
  } finally {
    await standIn.close();
    await registry.close();
    await env.stop();
  }
}

/** Samples every second until every mail has a final reply, the daemon exits or time runs out. */
async function sample(
  o: CapacityOptions,
  cfg: TestConfig,
  pid: number,
  started: number,
  counter: { holding: number },
  standIn: KubeStandIn,
  replies: () => number,
  exited: () => boolean,
): Promise<{ samples: Sample[]; timedOut: boolean }> {
  const samples: Sample[] = [];
  let lastLine = 0;
  for (;;) {
    const db = readDb(cfg, (d) => d.prepare(`SELECT sum(status = 'running') AS running, sum(finished_at IS NOT NULL) AS finished, count(*) AS accepted FROM tasks`).get() as {
      running: number | null;
      finished: number | null;
      accepted: number;
    });
    const s: Sample = {
      elapsedMs: Date.now() - started,
      holding: counter.holding,
      pods: standIn.objects('pod').length,
      running: db?.running ?? 0,
      rssBytes: statusField(pid, 'VmRSS') * 1024,
      threads: statusField(pid, 'Threads'),
    };
    samples.push(s);
    const answered = replies();
    if (s.elapsedMs - lastLine >= 15_000 || answered >= o.tasks) {
      lastLine = s.elapsedMs;
      o.onProgress?.(
        `  ${Math.round(s.elapsedMs / 1000)} s: accepted ${db?.accepted ?? 0}, running ${s.running}, pods ${s.pods}, holding ${s.holding}, finished ${db?.finished ?? 0}, replies ${answered}, rss ${Math.round(s.rssBytes / 2 ** 20)} MiB, threads ${s.threads}`,
      );
    }
    if (answered >= o.tasks) return { samples, timedOut: false };
    if (s.elapsedMs > o.timeoutMs || exited()) return { samples, timedOut: true };
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

type Counted = Pick<CapacityResult, 'statuses' | 'tasks' | 'lost' | 'duplicateTasks' | 'unanswered' | 'duplicateReplies' | 'acks' | 'unsentMail' | 'queueMs' | 'runMs'>;

function count(cfg: TestConfig, sent: string[], sentSet: Set<string>, env: E2eEnv): Counted {
  type Row = { message_id: string | null; status: string; created_at: number; started_at: number | null; finished_at: number | null };
  const rows = readDb(cfg, (db) => db.prepare(`SELECT message_id, status, created_at, started_at, finished_at FROM tasks WHERE status <> 'rejected'`).all() as Row[]) ?? [];
  const unsentMail = readDb(cfg, (db) => (db.prepare(`SELECT count(*) AS n FROM outgoing_mail WHERE status <> 'sent'`).get() as { n: number }).n) ?? -1;
  const tasksPer = new Map<string, number>();
  const statuses: Record<string, number> = {};
  for (const r of rows) {
    if (r.message_id) tasksPer.set(r.message_id, (tasksPer.get(r.message_id) ?? 0) + 1);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  }
  const repliesPer = new Map<string, number>();
  let acks = 0;
  for (const m of env.smtp.messages) {
    if (m.inReplyTo === undefined || !sentSet.has(m.inReplyTo)) continue;
    if (isAck(m)) acks++;
    else repliesPer.set(m.inReplyTo, (repliesPer.get(m.inReplyTo) ?? 0) + 1);
  }
  const ran = rows.filter((r) => r.started_at !== null && r.finished_at !== null);
  return {
    statuses,
    tasks: rows.length,
    lost: sent.filter((id) => !tasksPer.has(id)).length,
    duplicateTasks: sent.filter((id) => (tasksPer.get(id) ?? 0) > 1).length,
    unanswered: sent.filter((id) => !repliesPer.has(id)).length,
    duplicateReplies: sent.filter((id) => (repliesPer.get(id) ?? 0) > 1).length,
    acks,
    unsentMail,
    queueMs: ran.map((r) => r.started_at! - r.created_at),
    runMs: ran.map((r) => r.finished_at! - r.started_at!),
  };
}
