/**
 * Host routing (`dashboard.hosts`): one dashboard serving several teams under their own names,
 * each name showing only its repositories. The Host header is chosen by the client, so this only
 * narrows what is shown; what protects a repository is the token (access-scope.ts). Loopback
 * names and the host of `dashboard.base_url` keep the whole view (the operator's way in); any
 * other name is answered 404, so a name pointed at the dashboard by mistake shows nothing.
 */
import type { AccessScope } from './access-scope.ts';
import { hostName, isLoopbackHost } from './security.ts';

export type HostView =
  | { readonly kind: 'full' }
  | { readonly kind: 'repos'; readonly repos: ReadonlySet<string> }
  | { readonly kind: 'unknown' };

const FULL: HostView = { kind: 'full' };

export class HostRouting {
  private readonly byHost: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(
    hosts: Readonly<Record<string, readonly string[]>> | null,
    /** The host of dashboard.base_url, lowercase, or null. */
    private readonly baseHost: string | null,
  ) {
    this.byHost = new Map(Object.entries(hosts ?? {}).map(([h, ids]) => [h.toLowerCase(), new Set(ids)]));
  }

  /** What a request with this Host header (undefined: none sent) may be shown. */
  view(hostHeader: string | undefined): HostView {
    if (this.byHost.size === 0 || hostHeader === undefined) return FULL;
    const name = hostName(hostHeader);
    if (name === null) return { kind: 'unknown' };
    const repos = this.byHost.get(name);
    if (repos) return { kind: 'repos', repos };
    return isLoopbackHost(name) || name === this.baseHost ? FULL : { kind: 'unknown' };
  }
}

/** The scope narrowed to these repositories: the intersection, never more than either. */
export function narrowScope(scope: AccessScope, repos: ReadonlySet<string>): AccessScope {
  const kept = scope.repos === null ? new Set(repos) : new Set([...scope.repos].filter((r) => repos.has(r)));
  return { ...scope, repos: kept };
}
