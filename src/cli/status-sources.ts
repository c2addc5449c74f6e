/**
 * Where `airut status` reads from: the running daemon's dashboard JSON API (/api/repos and
 * /api/tasks) when it answers, else the database itself, opened read-only.
 */
import type { ServerConfig } from '../config/types.ts';
import { openDatabase } from '../store/database.ts';
import { countByRepoAndStatus, listTaskPage } from '../store/dashboard-queries.ts';
import { loadRepoStatuses } from '../store/repo-status.ts';
import type { RepoLine, TaskLine } from './status-report.ts';

/** Tasks of each state listed at most (the API's page limit). */
const TASKS_SHOWN = 200;
const DASHBOARD_TIMEOUT_MS = 5000;

export interface StatusFacts {
  readonly repos: RepoLine[];
  readonly tasks: TaskLine[];
}

/** The address to reach a dashboard listening on `host`: a wildcard address is reached on loopback. */
export function dashboardUrl(config: ServerConfig): string {
  const { host, port } = config.global.dashboard;
  const reach = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}

async function getJson(url: string, token: string | null): Promise<unknown> {
  const res = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(DASHBOARD_TIMEOUT_MS),
  });
  if (!res.ok) {
    const hint = res.status === 401 ? ' (set dashboard.auth_token\'s variable in this shell)' : '';
    throw new Error(`${new URL(url).pathname} answered HTTP ${res.status}${hint}`);
  }
  return res.json();
}

interface ApiRepo {
  id: string;
  listener: { state: string; detail: string | null } | null;
  counts: Record<string, number>;
}

type ApiTask = TaskLine;

/** Throws when the dashboard is off, unreachable or refuses; the message says which. */
export async function statusFromDashboard(config: ServerConfig): Promise<StatusFacts> {
  if (!config.global.dashboard.enabled) throw new Error('the dashboard is off (dashboard.enabled: false)');
  const base = dashboardUrl(config);
  const token = config.global.dashboard.authToken;
  const repos = (await getJson(`${base}/api/repos`, token)) as { repos: ApiRepo[] };
  const tasks: TaskLine[] = [];
  for (const status of ['running', 'queued']) {
    const page = (await getJson(`${base}/api/tasks?status=${status}&limit=${TASKS_SHOWN}`, token)) as { tasks: ApiTask[] };
    tasks.push(...page.tasks.map((t) => ({ id: t.id, repoId: t.repoId, status: t.status, subject: t.subject })));
  }
  return {
    repos: repos.repos.map((r) => ({
      id: r.id,
      listener: r.listener?.state ?? null,
      detail: r.listener?.detail ?? null,
      running: r.counts.running ?? 0,
      queued: r.counts.queued ?? 0,
    })),
    tasks,
  };
}

/** The configured repositories and any others the database knows, from the database read-only. */
export function statusFromDatabase(config: ServerConfig): StatusFacts {
  const db = openDatabase(config.global.databasePath, { readonly: true });
  try {
    const listeners = new Map(loadRepoStatuses(db).map((s) => [s.repoId, s]));
    const counts = countByRepoAndStatus(db);
    const count = (repo: string, status: string) => counts.find((c) => c.repoId === repo && c.status === status)?.count ?? 0;
    const ids = [...new Set([...Object.keys(config.repos), ...listeners.keys()])];
    const tasks = (['running', 'queued'] as const).flatMap((status) =>
      listTaskPage(db, { status, limit: TASKS_SHOWN }).tasks.map((t) => ({ id: t.id, repoId: t.repoId, status: t.status, subject: t.subject })),
    );
    return {
      repos: ids.map((id) => ({
        id,
        listener: listeners.get(id)?.state ?? null,
        detail: listeners.get(id)?.detail ?? null,
        running: count(id, 'running'),
        queued: count(id, 'queued'),
      })),
      tasks,
    };
  } finally {
    db.close();
  }
}
