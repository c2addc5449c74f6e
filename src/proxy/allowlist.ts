/**
 * `.airut/network-allowlist.yaml`: what a task's container may reach, in Airut's format so an
 * Airut repository works unchanged:
 *
 *   domains:                       # every path and method on these hosts
 *     - "*.github.com"
 *   url_prefixes:                  # host + path pattern, optionally limited to some methods
 *     - host: api.anthropic.com
 *       path: /v1/messages*
 *       methods: [POST]
 *     - host: api.github.com       # a GraphQL endpoint: only the listed operations (graphql-rule.ts)
 *       path: /graphql
 *       graphql: { queries: ["*"], mutations: [createPullRequest] }
 *
 * Patterns are fnmatch-style: `*` matches any run of characters (including `/` and `.`), `?` one
 * character. There is no implicit prefix: `/api` matches only `/api`; `*.github.com` does not
 * match `github.com`. An empty `path` allows every path. Host patterns compare case-insensitively,
 * paths case-sensitively, methods case-insensitively.
 *
 * The file is read from the mirror's default branch, never from the workspace the agent can edit,
 * so a change takes effect only once a person merged it.
 */
import { parse as parseYaml } from 'yaml';
import { AirutError } from '../errors.ts';
import { parseGraphqlRule, type GraphqlRule } from './graphql-rule.ts';

export const ALLOWLIST_PATH = '.airut/network-allowlist.yaml';

export interface UrlPrefixRule {
  readonly host: string;
  readonly path: string;
  /** Upper-case; empty means every method. */
  readonly methods: readonly string[];
  /** When present, the request body must carry only the GraphQL operations it lists. */
  readonly graphql?: GraphqlRule;
}

export interface Allowlist {
  readonly domains: readonly string[];
  readonly urlPrefixes: readonly UrlPrefixRule[];
}

export interface AllowlistDecision {
  readonly allowed: boolean;
  /** The rule that allowed the request (`domains[0]: *.github.com`), or why it was blocked. */
  readonly rule: string;
  /** For blocked requests: what did not match, so the 403 can say what to add. */
  readonly blockedBy?: 'host' | 'path' | 'method';
  /** The `graphql` block of the `url_prefixes` entry that allowed the request, if it has one. */
  readonly graphql?: GraphqlRule;
}

export class AllowlistError extends AirutError {
  constructor(message: string) {
    super('ALLOWLIST_INVALID', `${ALLOWLIST_PATH}: ${message}`);
  }
}

/** An allowlist that allows nothing (used when a repository has no file). */
export const EMPTY_ALLOWLIST: Allowlist = Object.freeze({ domains: Object.freeze([]), urlPrefixes: Object.freeze([]) });

const HOST_PATTERN = /^[A-Za-z0-9*?.-]+$/;
const METHOD = /^[A-Za-z]+$/;

/** Parses and validates the file's text. Every problem is reported at once. */
export function parseAllowlist(text: string): Allowlist {
  let doc: unknown;
  try {
    // Airut reads the file with PyYAML (YAML 1.1); nothing in this format differs between versions.
    doc = parseYaml(text, { version: '1.1' });
  } catch (err) {
    throw new AllowlistError(`not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return EMPTY_ALLOWLIST;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AllowlistError('the top level must be a mapping with `domains` and `url_prefixes`');
  const problems: string[] = [];
  const top = doc as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'domains' && key !== 'url_prefixes') problems.push(`unknown key "${key}" (only domains and url_prefixes)`);
  }
  const domains: string[] = [];
  const rawDomains = top.domains ?? [];
  if (!Array.isArray(rawDomains)) problems.push('domains must be a list of host patterns');
  else {
    rawDomains.forEach((d, i) => {
      if (typeof d !== 'string' || !HOST_PATTERN.test(d)) problems.push(`domains[${i}]: "${String(d)}" is not a host pattern (letters, digits, . - * ?)`);
      else domains.push(d.toLowerCase());
    });
  }
  const urlPrefixes: UrlPrefixRule[] = [];
  const rawPrefixes = top.url_prefixes ?? [];
  if (!Array.isArray(rawPrefixes)) problems.push('url_prefixes must be a list of {host, path, methods}');
  else {
    rawPrefixes.forEach((p, i) => {
      const at = `url_prefixes[${i}]`;
      if (typeof p !== 'object' || p === null || Array.isArray(p)) {
        problems.push(`${at}: must be a mapping with host, path and optional methods`);
        return;
      }
      const r = p as Record<string, unknown>;
      for (const key of Object.keys(r)) {
        if (!['host', 'path', 'methods', 'graphql'].includes(key)) problems.push(`${at}: unknown key "${key}" (host, path, methods, graphql)`);
      }
      if (typeof r.host !== 'string' || !HOST_PATTERN.test(r.host)) {
        problems.push(`${at}.host: "${String(r.host)}" is not a host pattern (letters, digits, . - * ?)`);
        return;
      }
      const pathPattern = r.path === undefined || r.path === null ? '' : r.path;
      if (typeof pathPattern !== 'string' || (pathPattern !== '' && !pathPattern.startsWith('/') && !pathPattern.startsWith('*'))) {
        problems.push(`${at}.path: must be empty (all paths) or start with / or *`);
        return;
      }
      const methods: string[] = [];
      if (r.methods !== undefined && r.methods !== null) {
        if (!Array.isArray(r.methods)) problems.push(`${at}.methods: must be a list such as [GET, POST]`);
        else {
          for (const m of r.methods) {
            if (typeof m !== 'string' || !METHOD.test(m)) problems.push(`${at}.methods: "${String(m)}" is not an HTTP method`);
            else methods.push(m.toUpperCase());
          }
        }
      }
      const graphql = 'graphql' in r ? parseGraphqlRule(r.graphql, `${at}.graphql`, problems) : undefined;
      urlPrefixes.push({ host: r.host.toLowerCase(), path: pathPattern, methods, ...(graphql ? { graphql } : {}) });
    });
  }
  if (problems.length > 0) throw new AllowlistError(problems.join('; '));
  return Object.freeze({ domains: Object.freeze(domains), urlPrefixes: Object.freeze(urlPrefixes) });
}

const compiled = new Map<string, RegExp>();

/** fnmatch `*` and `?` → an anchored regular expression (cached: the same few patterns repeat). */
export function globToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  const key = `${caseInsensitive ? 'i' : 's'}:${pattern}`;
  let re = compiled.get(key);
  if (!re) {
    let src = '^';
    for (const ch of pattern) {
      if (ch === '*') src += '[\\s\\S]*';
      else if (ch === '?') src += '[\\s\\S]';
      else src += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    re = new RegExp(`${src}$`, caseInsensitive ? 'i' : '');
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(key, re);
  }
  return re;
}

export function hostMatches(pattern: string, host: string): boolean {
  return globToRegExp(pattern, true).test(host);
}

/**
 * Whether a request may go out. `host` is lower-case without port; `path` is the request path
 * without the query string (what the rules describe), already checked by the request guard.
 */
export function decide(list: Allowlist, req: { host: string; path: string; method: string }): AllowlistDecision {
  const method = req.method.toUpperCase();
  for (const [i, d] of list.domains.entries()) {
    if (hostMatches(d, req.host)) return { allowed: true, rule: `domains[${i}]: ${d}` };
  }
  let hostKnown = false;
  let pathKnown = false;
  for (const [i, r] of list.urlPrefixes.entries()) {
    if (!hostMatches(r.host, req.host)) continue;
    hostKnown = true;
    if (r.path !== '' && !globToRegExp(r.path, false).test(req.path)) continue;
    pathKnown = true;
    if (r.methods.length > 0 && !r.methods.includes(method)) continue;
    const rule = `url_prefixes[${i}]: ${r.host} ${r.path || '(all paths)'}${r.methods.length ? ` [${r.methods.join(', ')}]` : ''}`;
    return { allowed: true, rule, ...(r.graphql ? { graphql: r.graphql } : {}) };
  }
  if (pathKnown) return { allowed: false, blockedBy: 'method', rule: `method ${method} is not allowed for ${req.host}${req.path}` };
  if (hostKnown) return { allowed: false, blockedBy: 'path', rule: `path ${req.path} is not allowed on ${req.host}` };
  return { allowed: false, blockedBy: 'host', rule: `host ${req.host} is not in the allowlist` };
}

/**
 * Every host pattern a rule names. The in-container DNS (src/sandbox/sidecar/netns-forwarder.mjs)
 * answers only names matching one of these, so a lookup of an arbitrary name fails and leaks nothing.
 */
export function listedHostPatterns(list: Allowlist): string[] {
  return [...new Set([...list.domains, ...list.urlPrefixes.map((r) => r.host)])];
}

/** Whether the in-container DNS answers for `host` (the same matching the forwarder does). */
export function hostIsListed(list: Allowlist, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return listedHostPatterns(list).some((p) => hostMatches(p, h));
}
