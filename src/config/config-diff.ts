/**
 * What a configuration reload changes, by scope (docs/configuration.md, "Reloading"). Pure: the
 * daemon applies the plan (src/daemon/reload.ts). Scopes, from the lightest to the heaviest:
 *
 * - per task: everything the dispatcher hands a runner with each task (a repository's senders
 *   for later tasks, secrets, limits, pod resources and user, network switch, SMTP account) and the global settings read
 *   when used (`max_concurrent`, `shutdown_timeout`, `rejected_mail`); nothing restarts.
 * - listener update: the rules a listener screens mail with (`authorized_senders`,
 *   `trusted_authserv_id`, the attachment limits) are handed to the running thread; no logout.
 * - listener restart: how a listener reaches its inbox (IMAP server, account, login, TLS, IDLE
 *   and poll settings, `max_message_bytes`): only that repository's listener thread restarts.
 * - repository added / removed: its listener starts / stops.
 * - dashboard: host, port, token, session lengths, hosts: the dashboard rebinds.
 * - restart: what cannot change while the daemon runs; it is reported, and the running value kept.
 */
import { isDeepStrictEqual } from 'node:util';
import { listenerConfig } from '../protocol/listener.ts';
import { deepFreeze } from './freeze.ts';
import type { GlobalConfig, RepoServerConfig, ServerConfig } from './types.ts';

/** Global settings that need a restart, with their YAML keys (the runner threads and the store get them once). */
const RESTART_ONLY_GLOBAL: ReadonlyArray<readonly [keyof GlobalConfig, string]> = [
  ['databasePath', 'database'],
  // The backend is built once per runner thread, and the pod gateway listens from start-up.
  ['backend', 'execution.backend'],
  ['kubernetes', 'kubernetes'],
  ['containerCommand', 'container_command'],
  ['containerNetwork', 'container_network'],
  ['network', 'network'],
  ['claude', 'claude'],
  ['imageBuildTimeoutSeconds', 'execution.image_build_timeout'],
  ['imageMaxAgeHours', 'execution.image_max_age_hours'],
  ['conversationMaxAgeDays', 'execution.conversation_max_age_days'],
  ['taskOutput', 'task_output'],
];

/** Global settings read each time they are used. */
const LIVE_GLOBAL: ReadonlyArray<readonly [keyof GlobalConfig, string]> = [
  ['shutdownTimeoutSeconds', 'execution.shutdown_timeout'],
  ['rejectedMail', 'rejected_mail'],
  // Read by the next reload (and the next start).
  ['resilientStart', 'execution.resilient_start'],
];

export interface ConfigDiff {
  readonly reposAdded: readonly string[];
  readonly reposRemoved: readonly string[];
  /** Repositories whose listener must reconnect (its inbox connection settings changed). */
  readonly listenerRestart: readonly string[];
  /** Repositories whose listener gets new screening rules or limits without reconnecting. */
  readonly listenerUpdate: readonly string[];
  /** Repositories with a change the next task (or the next reply) picks up. */
  readonly perTask: readonly string[];
  /** Repositories whose SMTP account changed: the mail sender drops its connection to the old one. */
  readonly smtpChanged: readonly string[];
  readonly maxConcurrent: { readonly from: number; readonly to: number } | null;
  /** `dashboard.*` keys whose change makes the dashboard rebind. */
  readonly dashboard: readonly string[];
  /** Live global keys that changed (YAML names). */
  readonly globalLive: readonly string[];
  /** Keys (YAML names) that changed in the file but wait for a restart; the running value is kept. */
  readonly needsRestart: readonly string[];
}

export interface ReloadPlan {
  readonly diff: ConfigDiff;
  /** The configuration to run from now on: the new file, with every restart-only value kept as it runs. */
  readonly effective: ServerConfig;
}

/** True when the reload changes nothing that runs (a restart-only change alone still counts as nothing applied). */
export function isEmptyDiff(d: ConfigDiff): boolean {
  return (
    d.reposAdded.length + d.reposRemoved.length + d.listenerRestart.length + d.listenerUpdate.length + d.perTask.length === 0 &&
    d.maxConcurrent === null &&
    d.dashboard.length + d.globalLive.length === 0
  );
}

export function planReload(running: ServerConfig, next: ServerConfig): ReloadPlan {
  const needsRestart: string[] = [];
  const global = keepRestartOnlyGlobal(running.global, next.global, needsRestart);
  const repos: Record<string, RepoServerConfig> = {};
  for (const [id, repo] of Object.entries(next.repos)) {
    const old = running.repos[id];
    if (old && old.storageDir !== repo.storageDir) {
      needsRestart.push(`repos.${id}.storage_dir`);
      repos[id] = { ...repo, storageDir: old.storageDir };
    } else repos[id] = repo;
  }
  const effective = deepFreeze({ global, repos, sourcePath: next.sourcePath });
  return { diff: diffConfig(running, effective, needsRestart), effective };
}

function keepRestartOnlyGlobal(running: GlobalConfig, next: GlobalConfig, needsRestart: string[]): GlobalConfig {
  const kept: Record<string, unknown> = { ...next };
  for (const [key, yaml] of RESTART_ONLY_GLOBAL) {
    if (!isDeepStrictEqual(running[key], next[key])) {
      needsRestart.push(yaml);
      kept[key] = running[key];
    }
  }
  // The runner threads put the dashboard's base URL into replies; they get it once.
  if (running.dashboard.baseUrl !== next.dashboard.baseUrl) {
    needsRestart.push('dashboard.base_url');
    kept.dashboard = { ...next.dashboard, baseUrl: running.dashboard.baseUrl };
  }
  return kept as unknown as GlobalConfig;
}

/** `before` and `after` differ only in what can change live (see planReload). */
function diffConfig(before: ServerConfig, after: ServerConfig, needsRestart: readonly string[]): ConfigDiff {
  const ids = (c: ServerConfig) => Object.keys(c.repos);
  const kept = ids(after).filter((id) => before.repos[id]);
  const listenerRestart: string[] = [];
  const listenerUpdate: string[] = [];
  const perTask: string[] = [];
  const smtpChanged: string[] = [];
  for (const id of kept) {
    const a = before.repos[id]!;
    const b = after.repos[id]!;
    if (isDeepStrictEqual(a, b)) continue;
    const la = listenerConfig(a);
    const lb = listenerConfig(b);
    // The IMAP loop takes the message size limit at start (it decides what to download).
    const connA = { ...la.imap, maxMessageBytes: la.limits.maxMessageBytes };
    const connB = { ...lb.imap, maxMessageBytes: lb.limits.maxMessageBytes };
    if (!isDeepStrictEqual(connA, connB)) listenerRestart.push(id);
    else if (!isDeepStrictEqual(la, lb)) listenerUpdate.push(id);
    if (smtpOf(a) !== smtpOf(b)) smtpChanged.push(id);
    perTask.push(id);
  }
  const dashboardKeys = (['enabled', 'host', 'port', 'authToken', 'sessionIdleSeconds', 'sessionLifetimeSeconds', 'hosts'] as const).filter(
    (k) => !isDeepStrictEqual(before.global.dashboard[k], after.global.dashboard[k]),
  );
  return {
    reposAdded: ids(after).filter((id) => !before.repos[id]),
    reposRemoved: ids(before).filter((id) => !after.repos[id]),
    listenerRestart,
    listenerUpdate,
    perTask,
    smtpChanged,
    maxConcurrent:
      before.global.maxConcurrent === after.global.maxConcurrent ? null : { from: before.global.maxConcurrent, to: after.global.maxConcurrent },
    dashboard: dashboardKeys.map((k) => `dashboard.${DASHBOARD_YAML[k]}`),
    globalLive: LIVE_GLOBAL.filter(([k]) => !isDeepStrictEqual(before.global[k], after.global[k])).map(([, yaml]) => yaml),
    needsRestart: [...needsRestart],
  };
}

const DASHBOARD_YAML = {
  enabled: 'enabled',
  host: 'host',
  port: 'port',
  authToken: 'auth_token',
  sessionIdleSeconds: 'session_idle_timeout',
  sessionLifetimeSeconds: 'session_lifetime',
  hosts: 'hosts',
} as const;

/** Everything the SMTP transport of a repository is built from, as one comparable string. */
function smtpOf(r: RepoServerConfig): string {
  const e = r.email;
  return JSON.stringify([e.smtpServer, e.smtpPort, e.smtpSecurity, e.username, e.login, e.tls]);
}

/** One line per scope, for the log line of an applied reload (never a value: values may be secrets). */
export function describeDiff(d: ConfigDiff): { applied: string[]; waiting: string[] } {
  const applied: string[] = [];
  const list = (xs: readonly string[]) => xs.join(', ');
  if (d.reposAdded.length) applied.push(`repositories added, listeners started: ${list(d.reposAdded)}`);
  if (d.reposRemoved.length) applied.push(`repositories removed, listeners stopped: ${list(d.reposRemoved)}`);
  if (d.listenerRestart.length) applied.push(`listeners restarted (inbox settings changed): ${list(d.listenerRestart)}`);
  if (d.listenerUpdate.length) applied.push(`listeners given new screening rules or limits: ${list(d.listenerUpdate)}`);
  if (d.perTask.length) applied.push(`repository settings effective for the next task: ${list(d.perTask)}`);
  if (d.maxConcurrent) applied.push(`max_concurrent ${d.maxConcurrent.from} → ${d.maxConcurrent.to}`);
  if (d.dashboard.length) applied.push(`dashboard rebound (${list(d.dashboard)})`);
  if (d.globalLive.length) applied.push(`effective now: ${list(d.globalLive)}`);
  const waiting = d.needsRestart.length ? [`needs a restart (running value kept): ${list(d.needsRestart)}`] : [];
  return { applied, waiting };
}
