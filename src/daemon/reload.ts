/**
 * Applying a configuration reload to the running parts, scope by scope (the scopes are worked out
 * by src/config/config-diff.ts). Nothing waits for idleness: each part takes its change the way
 * it can without interrupting work: a listener restarts alone, the dispatcher launches the next
 * task with the new settings, a running task keeps the settings it started with.
 */
import type { ConfigDiff, ReloadPlan } from '../config/config-diff.ts';
import type { RepoServerConfig, ServerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';

/** What a reload did, for the caller (SIGHUP, the file watcher, tests). */
export interface ReloadResult {
  /**
   * applied: the new file runs (perhaps with parts waiting for a restart); unchanged: the file
   * says what already runs; refused: the file is invalid and nothing changed; skipped: the daemon
   * is not running (starting or stopping); failed: an unexpected error (logged) stopped the
   * reload part-way.
   */
  readonly outcome: 'applied' | 'unchanged' | 'refused' | 'skipped' | 'failed';
  /** One line per applied scope. */
  readonly applied: readonly string[];
  /** What changed in the file but waits for a restart. */
  readonly waiting: readonly string[];
  /** Why the file was refused, each as `path: message`. */
  readonly problems: readonly string[];
}

/** The running parts, as far as a reload changes them. */
export interface ReloadTargets {
  readonly supervisor: {
    setConfig(c: ServerConfig): void;
    startRepo(r: RepoServerConfig): Promise<void>;
    stopRepo(id: string): Promise<void>;
    restartRepo(r: RepoServerConfig): Promise<void>;
    updateRepo(r: RepoServerConfig): Promise<void>;
  } | null;
  readonly dispatcher: { setConfig(c: ServerConfig): void } | null;
  /** Takes the new schedules; the next pass runs them. */
  readonly scheduler: { setRepos(repos: ServerConfig['repos']): void } | null;
  readonly sender: { setRepos(repos: ServerConfig['repos'], changed: readonly string[]): void } | null;
  /** Takes the new webhook URLs, secrets and subscriptions; the next attempt uses them. */
  readonly webhooks: { setRepos(repos: ServerConfig['repos']): void } | null;
  readonly runnerFaults: { setRepos(repos: ServerConfig['repos']): void };
  /** Closes the dashboard (its open live streams end) and starts it with the new settings. */
  readonly rebindDashboard: () => Promise<void>;
  /** Starts the storage probe again over the new set of storage directories. */
  readonly restartStorageProbe: () => void;
}

/** The configuration is swapped everywhere first, then the listeners change, in parallel (they are independent). */
export async function applyReloadPlan(plan: ReloadPlan, t: ReloadTargets, log: Logger): Promise<void> {
  const { diff, effective: config } = plan;
  t.supervisor?.setConfig(config);
  t.dispatcher?.setConfig(config);
  t.scheduler?.setRepos(config.repos);
  t.sender?.setRepos(config.repos, [...diff.smtpChanged, ...diff.reposRemoved]);
  t.webhooks?.setRepos(config.repos);
  t.runnerFaults.setRepos(config.repos);
  await Promise.all(listenerSteps(diff, config, t, log));
  if (diff.reposAdded.length || diff.reposRemoved.length) t.restartStorageProbe();
  if (diff.dashboard.length) {
    try {
      await t.rebindDashboard();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'the dashboard could not listen with its new settings; it is off until a reload changes them again or the daemon restarts');
    }
  }
}

function listenerSteps(diff: ConfigDiff, config: ServerConfig, t: ReloadTargets, log: Logger): Array<Promise<void>> {
  const s = t.supervisor;
  if (!s) return [];
  const repo = (id: string) => config.repos[id]!;
  const guarded = (id: string, step: Promise<void>) =>
    step.catch((err: unknown) => log.error({ repo: id, err: (err as Error).message }, 'a listener change of the reload failed'));
  return [
    ...diff.reposRemoved.map((id) => guarded(id, s.stopRepo(id))),
    ...diff.listenerRestart.map((id) => guarded(id, s.restartRepo(repo(id)))),
    ...diff.listenerUpdate.map((id) => guarded(id, s.updateRepo(repo(id)))),
    ...diff.reposAdded.map((id) => guarded(id, s.startRepo(repo(id)))),
  ];
}
