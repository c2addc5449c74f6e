/**
 * Checks a request must pass before the allowlist is even asked: the target is well-formed, the
 * path cannot mean something else upstream than what the rules see, and every name the request
 * carries for its destination agrees.
 *
 * Why paths are refused rather than normalised: the allowlist rules are matched against the path
 * as sent, and upstream servers differ in how they decode `%2F`, `..`, `\` and NUL. A path that a
 * server might read differently from the rules (`/repos/ours/../../theirs`) is blocked outright.
 */

export interface RequestTarget {
  /** Lower-case host name or address, without port and without a trailing dot. */
  readonly host: string;
  readonly port: number;
  /** The path without the query string, exactly as sent. */
  readonly path: string;
  /** Path and query, as forwarded upstream. */
  readonly pathAndQuery: string;
}

export type GuardResult =
  | { readonly ok: true; readonly target: RequestTarget }
  /** `status`: 400 when the client must change how it talks to the proxy, 403 otherwise. */
  | { readonly ok: false; readonly reason: string; readonly status: 400 | 403 };

/**
 * Why an absolute `https://` URL on a plain connection is refused rather than fetched: the client
 * meant TLS, but the request (and any masked secret swapped into it) would travel in plain text,
 * and the proxy would have to speak plain HTTP to port 443 or open TLS on the client's behalf
 * without the client ever having checked anything. HTTPS goes through CONNECT.
 */
export const PLAIN_HTTPS_URL_REASON =
  'an https:// URL was sent to the proxy in plain text. Use CONNECT (HTTPS_PROXY semantics): ' +
  'send "CONNECT host:443", then TLS inside the tunnel. Tools that honour HTTPS_PROXY do this by themselves';


const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** `example.com`, `example.com:8080`, `[::1]:443` → host and port; null when malformed. */
export function parseHostHeader(value: string, defaultPort: number): { host: string; port: number } | null {
  const v = value.trim().toLowerCase();
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([0-9a-f:.]+)\](?::(\d+))?$/.exec(v);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(v);
    if (!m) return null;
    host = m[1]!.replace(/\.$/, '');
    portText = m[2];
    if (!HOST_NAME.test(host) && !IPV4.test(host)) return null;
  }
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/** Why a path is refused, or null when it is safe to match and forward as is. */
export function pathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'the path must start with /';
  if (/[\0-\x20\x7f]/.test(path)) return 'the path contains a control character, space or NUL';
  if (path.includes('\\')) return 'the path contains a backslash';
  if (/%(00|2f|5c)/i.test(path)) return 'the path contains an encoded NUL, slash or backslash';
  // `.`/`..` segments, also when (partly) percent-encoded: `%2e%2e`, `.%2e`.
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return 'the path has a malformed percent-encoding';
    }
    if (decoded === '.' || decoded === '..') return 'the path contains a . or .. segment';
  }
  return null;
}

/**
 * Target of a request reaching the proxy.
 * - `url`: the request line's target (origin form `/p?q`, or absolute `http://h/p` from a client
 *   that uses the proxy explicitly);
 * - `hostHeader`: the Host header;
 * - `tunnelHost`: for requests inside TLS, the name the tunnel was opened for (SNI, or CONNECT's
 *   host) — the name the client's certificate check was about.
 * - `encrypted`: whether the request arrived inside TLS (terminated or CONNECT).
 * Every name present must agree: a request that says one host to the rules and another to the
 * upstream server (a forged Host header) is refused.
 */
export function guardRequest(input: {
  url: string;
  hostHeader: string | undefined;
  tunnelHost: string | null;
  defaultPort: number;
  encrypted: boolean;
}): GuardResult {
  const { url, hostHeader, tunnelHost, defaultPort, encrypted } = input;
  const refuse = (reason: string, status: 400 | 403 = 403): GuardResult => ({ ok: false, reason, status });
  let pathAndQuery: string;
  let urlHost: { host: string; port: number } | null = null;
  if (url.startsWith('/')) {
    pathAndQuery = url;
  } else {
    const m = /^(https?):\/\/([^/?#]+)([^#]*)$/i.exec(url);
    if (!m) return refuse('the request target is neither a path nor an http(s) URL');
    if (m[1]!.toLowerCase() === 'https' && !encrypted) return refuse(PLAIN_HTTPS_URL_REASON, 400);
    if (m[2]!.includes('@')) return refuse('the URL carries user information');
    urlHost = parseHostHeader(m[2]!, m[1]!.toLowerCase() === 'https' ? 443 : 80);
    if (!urlHost) return refuse(`the URL host "${m[2]}" is not a valid host`);
    pathAndQuery = m[3] || '/';
  }
  if (hostHeader === undefined || hostHeader === '') return refuse('the request has no Host header');
  const header = parseHostHeader(hostHeader, urlHost?.port ?? defaultPort);
  if (!header) return refuse(`the Host header "${hostHeader}" is not a valid host`);
  if (urlHost && urlHost.host !== header.host) {
    return refuse(`the Host header (${header.host}) does not match the URL host (${urlHost.host})`);
  }
  if (tunnelHost !== null && tunnelHost.toLowerCase().replace(/\.$/, '') !== header.host) {
    return refuse(`the Host header (${header.host}) does not match the TLS server name (${tunnelHost})`);
  }
  const q = pathAndQuery.indexOf('?');
  const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
  const problem = pathProblem(path);
  if (problem) return refuse(problem);
  return { ok: true, target: { host: header.host, port: urlHost?.port ?? header.port, path, pathAndQuery } };
}
