/**
 * `dashboard.hosts`: which repositories the dashboard shows to a request for each host name (see
 * src/dashboard/host-scope.ts). Host names are compared lowercased, as the Host header is.
 */
import type { ConfigProblem } from '../errors.ts';
import { normalizeBaseUrl } from './dashboard-url.ts';
import { isHost, isLoopbackHost } from './network.ts';
import { childPath, isRecord } from './object-path.ts';

export function checkDashboardHosts(dashboard: unknown, repos: unknown, problems: ConfigProblem[]): void {
  if (!isRecord(dashboard) || !isRecord(dashboard.hosts)) return;
  const known = isRecord(repos) ? Object.keys(repos) : [];
  const baseUrl = typeof dashboard.base_url === 'string' ? normalizeBaseUrl(dashboard.base_url) : null;
  const baseHost = baseUrl ? new URL(baseUrl).hostname.toLowerCase() : null;
  for (const [host, ids] of Object.entries(dashboard.hosts)) {
    const path = childPath('dashboard.hosts', host);
    const name = host.toLowerCase();
    if (!isHost(host) || host.includes(':')) {
      problems.push({ path, message: 'must be a host name as a browser sends it, without scheme, port or path' });
    } else if (isLoopbackHost(name) || name === baseHost) {
      problems.push({ path, message: `${name} always shows every repository (it is ${name === baseHost ? "dashboard.base_url's host" : 'a loopback name'}); list another name` });
    }
    if (!Array.isArray(ids)) continue;
    ids.forEach((id, i) => {
      if (typeof id === 'string' && !known.includes(id)) {
        problems.push({ path: childPath(path, i), message: `names no repository of this configuration (it has: ${known.join(', ') || 'none'})` });
      }
    });
  }
}

/** The setting as the dashboard reads it: lowercase host names; null when absent or empty. */
export function buildDashboardHosts(hosts: Record<string, string[]> | null | undefined): Readonly<Record<string, readonly string[]>> | null {
  if (!hosts || Object.keys(hosts).length === 0) return null;
  return Object.fromEntries(Object.entries(hosts).map(([host, ids]) => [host.toLowerCase(), [...ids]]));
}
