/**
 * The soak run shared by `scripts/soak.ts` (1,000 messages, with memory figures) and
 * test/e2e/soak.test.ts (a short run that checks the counts): the real daemon on the real parts of
 * the e2e tests, N new conversations spread over R repos, every task answered by the fast scripted
 * agent (one text answer, no tools). It counts what the daemon recorded and what reached the SMTP
 * server; judging the counts is the caller's business.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { buildMail, dmarcPass } from './mail-builder.ts';
import { AUTHSERV, ALICE, isAck, readDb, repoYaml, startE2eEnv } from './e2e-env.ts';
import { instanceId } from '../../src/instance-id.ts';

export interface SoakOptions {
  readonly messages: number;
  readonly repos: number;
  readonly maxConcurrent: number;
  /** Finished tasks after which the first memory figure is taken. Default 100 (or all, if fewer). */
  readonly rssAfterTasks?: number;
  /** Give up waiting for the replies after this long. */
  readonly timeoutMs: number;
  /** Called every few seconds while tasks run. */
  readonly onProgress?: (p: SoakProgress) => void;
}

export interface SoakProgress {
  readonly elapsedMs: number;
  readonly accepted: number;
  readonly finished: number;
  readonly finalReplies: number;
  readonly rssBytes: number | null;
}

export interface RssSample {
  readonly elapsedMs: number;
  readonly finished: number;
  readonly rssBytes: number;
}

export interface SoakResult {
  readonly messages: number;
  readonly repos: number;
  readonly maxConcurrent: number;
  /** Task rows of the sent messages (non-rejected), and of anything else. */
  readonly tasks: number;
  readonly statuses: Readonly<Record<string, number>>;
  /** Sent messages without a task row, and with more than one. */
  readonly lost: readonly string[];
  readonly duplicateTasks: readonly string[];
  /** Final replies (reply, error or notice) and acknowledgements that reached the SMTP server. */
  readonly finalReplies: number;
  readonly acks: number;
  /** Sent messages without a final reply, and with more than one. */
  readonly unanswered: readonly string[];
  readonly duplicateReplies: readonly string[];
  /** Mails of the outbox that are not `sent` at the end. */
  readonly unsentMail: number;
  /** Containers of this daemon still present at the end. */
  readonly leftoverContainers: readonly string[];
  readonly timedOut: boolean;
  readonly daemonExit: number | string;
  /** Resident set size of the daemon process (all its threads). */
  readonly rss: { readonly first: RssSample | null; readonly end: RssSample | null; readonly max: number; readonly samples: readonly RssSample[] };
  /** APPEND of the first message → last final reply captured. */
  readonly durationMs: number;
  /** All APPENDs done. */
  readonly deliveryMs: number;
  /** Per task, from the database: accepted → finished (ms), median and p90. */
  readonly taskMs: { readonly median: number; readonly p90: number };
  /** Per task: started → finished (ms), median and p90. */
  readonly runMs: { readonly median: number; readonly p90: number };
}

function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const repoIds = Array.from({ length: o.repos }, (_, i) => `soak${i + 1}`);
  const env = await startE2eEnv({ repoIds });
  try {
    const repos = await Promise.all(repoIds.map((id) => env.repo(id, repoYaml())));
    const { cfg, daemon } = env.daemonWith(
      repos,
      o.maxConcurrent,
      // One sender sends everything: the per-sender and per-repo rate limits would refuse most of it.
      { limits: { tasks_per_hour: null, tasks_per_sender_per_hour: null } },
      // Debug lines for 1,000 tasks cost the daemon time and this process memory.
      { AIRUT_LOG_LEVEL: 'info' },
    );
    try {
      await daemon.waitForLog((l) => l.msg === 'airut-ts is running', 60_000, 'the daemon to start');
      const pid = daemon.child.pid!;
      const rssAfter = Math.min(o.rssAfterTasks ?? 100, o.messages);

      // Deliver: one IMAP connection per inbox, messages spread round-robin over the repos.
      const started = Date.now();
      const clients = await Promise.all(repoIds.map((id) => env.dovecot.connect(`${id}-bot`)));
      const sent: string[] = [];
      try {
        for (let i = 0; i < o.messages; i++) {
          const r = i % o.repos;
          const messageId = `<soak.${i}.${started.toString(36)}@example.com>`;
          sent.push(messageId);
          const raw = buildMail({
            from: ALICE,
            to: `${repoIds[r]}-bot@repos.test`,
            subject: `soak ${i}`,
            text: `soak message ${i} for ${repoIds[r]}`,
            messageId,
            authResults: [dmarcPass(AUTHSERV, 'example.com')],
          });
          if ((await clients[r]!.append('INBOX', raw)) === false) throw new Error(`APPEND of message ${i} failed`);
        }
      } finally {
        await Promise.allSettled(clients.map((c) => c.logout()));
      }
      const deliveryMs = Date.now() - started;

      const sentSet = new Set(sent);
      const answered = () => env.smtp.messages.filter((m) => m.inReplyTo !== undefined && sentSet.has(m.inReplyTo) && !isAck(m)).length;
      const counts = () =>
        readDb(cfg, (db) => db.prepare(`SELECT count(*) AS accepted, sum(finished_at IS NOT NULL) AS finished FROM tasks`).get() as { accepted: number; finished: number | null }) ?? {
          accepted: 0,
          finished: 0,
        };
      const samples: RssSample[] = [];
      let first: RssSample | null = null;
      let timedOut = false;
      const deadline = started + o.timeoutMs;
      for (;;) {
        const c = counts();
        const finished = c.finished ?? 0;
        const rss = rssOf(pid);
        const elapsedMs = Date.now() - started;
        if (rss !== null) {
          const sample = { elapsedMs, finished, rssBytes: rss };
          samples.push(sample);
          if (first === null && finished >= rssAfter) first = sample;
        }
        const replies = answered();
        o.onProgress?.({ elapsedMs, accepted: c.accepted, finished, finalReplies: replies, rssBytes: rss });
        if (replies >= o.messages) break;
        if (Date.now() > deadline || daemon.child.exitCode !== null) {
          timedOut = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 2_000));
      }
      const durationMs = Date.now() - started;
      // Let late duplicates show and the outbox settle, then take the closing memory figure.
      await new Promise((r) => setTimeout(r, 5_000));
      const endRss = rssOf(pid);
      const end = endRss === null ? null : { elapsedMs: Date.now() - started, finished: counts().finished ?? 0, rssBytes: endRss };

      const rows =
        readDb(cfg, (db) =>
          db.prepare(`SELECT message_id, status, created_at, started_at, finished_at FROM tasks WHERE status <> 'rejected'`).all() as Array<{
            message_id: string | null;
            status: string;
            created_at: number;
            started_at: number | null;
            finished_at: number | null;
          }>,
        ) ?? [];
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
      const leftoverContainers = execFileSync(
        'podman',
        ['ps', '-a', '--filter', `label=airut.instance=${instanceId(cfg.dbPath)}`, '--format', '{{.Names}}'],
        { env: { ...process.env, ...env.podmanEnv } },
      )
        .toString()
        .split('\n')
        .filter((l) => l.trim());
      const done = rows.filter((r) => r.finished_at !== null);
      const daemonExit = await daemon.stop('SIGTERM', 60_000);
      return {
        messages: o.messages,
        repos: o.repos,
        maxConcurrent: o.maxConcurrent,
        tasks: rows.length,
        statuses,
        lost: sent.filter((id) => !tasksPer.has(id)),
        duplicateTasks: sent.filter((id) => (tasksPer.get(id) ?? 0) > 1),
        finalReplies: [...repliesPer.values()].reduce((a, b) => a + b, 0),
        acks,
        unanswered: sent.filter((id) => !repliesPer.has(id)),
        duplicateReplies: sent.filter((id) => (repliesPer.get(id) ?? 0) > 1),
        unsentMail,
        leftoverContainers,
        timedOut,
        daemonExit,
        rss: { first, end, max: Math.max(0, ...samples.map((s) => s.rssBytes)), samples },
        durationMs,
        deliveryMs,
        taskMs: {
          median: quantile(done.map((r) => r.finished_at! - r.created_at), 0.5),
          p90: quantile(done.map((r) => r.finished_at! - r.created_at), 0.9),
        },
        runMs: {
          median: quantile(done.filter((r) => r.started_at !== null).map((r) => r.finished_at! - r.started_at!), 0.5),
          p90: quantile(done.filter((r) => r.started_at !== null).map((r) => r.finished_at! - r.started_at!), 0.9),
        },
      };
    } finally {
      await daemon.stop('SIGKILL');
    }
  } finally {
    await env.stop();
  }
}

/** What is wrong with a soak's counts (empty when every message became one task and one reply). */
export function soakViolations(r: SoakResult): string[] {
  const v: string[] = [];
  const few = (ids: readonly string[]) => ids.slice(0, 5).join(', ') + (ids.length > 5 ? ` and ${ids.length - 5} more` : '');
  if (r.timedOut) v.push('timed out (or the daemon exited) before every reply arrived');
  if (r.tasks !== r.messages) v.push(`${r.tasks} tasks for ${r.messages} messages`);
  if (r.lost.length) v.push(`${r.lost.length} messages without a task: ${few(r.lost)}`);
  if (r.duplicateTasks.length) v.push(`${r.duplicateTasks.length} messages with more than one task: ${few(r.duplicateTasks)}`);
  if ((r.statuses['completed'] ?? 0) !== r.messages) v.push(`not all tasks completed: ${JSON.stringify(r.statuses)}`);
  if (r.finalReplies !== r.messages) v.push(`${r.finalReplies} final replies for ${r.messages} messages`);
  if (r.unanswered.length) v.push(`${r.unanswered.length} messages without a reply: ${few(r.unanswered)}`);
  if (r.duplicateReplies.length) v.push(`${r.duplicateReplies.length} messages answered more than once: ${few(r.duplicateReplies)}`);
  if (r.acks !== r.messages) v.push(`${r.acks} acknowledgements for ${r.messages} new conversations`);
  if (r.unsentMail !== 0) v.push(`${r.unsentMail} mails not sent`);
  if (r.leftoverContainers.length) v.push(`containers left: ${r.leftoverContainers.join(', ')}`);
  if (r.daemonExit !== 0) v.push(`the daemon exited with ${r.daemonExit} on SIGTERM`);
  return v;
}
