/**
 * The two faces of a configured repository URL: the one the daemon fetches with (it may carry a
 * token, `https://user:TOKEN@host/repo.git` or `…/repo.git?private_token=…`), and the public one
 * that may be written where a task's container can read it (the workspace's `origin`, the
 * mirror's config). Pure: no I/O.
 *
 * What counts as a credential:
 * - any user info of a URL with a scheme, except the user name of an ssh URL (`ssh://git@host/…`
 *   names an account; its key lives elsewhere) — a lone https user name is often the token itself
 *   (`https://TOKEN@github.com/…`);
 * - the query string and fragment: git sends neither as part of the repository's path, and hosts
 *   that take tokens in a URL take them there.
 * scp-style `user@host:path` and local paths have no place for a secret and stay as they are.
 */

/** `scheme://authority` up to the path, with the scheme in group 1 and the authority in group 2. */
const SCHEME_URL = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([\s\S]*)$/;
const SSH_SCHEMES = new Set(['ssh', 'git+ssh', 'ssh+git']);

interface SplitUrl {
  readonly scheme: string;
  /** Text before the last `@` of the authority, or null when there is none. */
  readonly userinfo: string | null;
  readonly hostPort: string;
  /** Path without query and fragment. */
  readonly path: string;
  /** After `?` (fragment included), or null. */
  readonly query: string | null;
}

function splitUrl(url: string): SplitUrl | null {
  const m = SCHEME_URL.exec(url);
  if (!m) return null;
  const [, scheme = '', authority = '', rest = ''] = m;
  // The last `@`: a password with a raw `@` in it must not leave a piece behind in the host part.
  const at = authority.lastIndexOf('@');
  const q = rest.search(/[?#]/);
  return {
    scheme: scheme.toLowerCase(),
    userinfo: at >= 0 ? authority.slice(0, at) : null,
    hostPort: at >= 0 ? authority.slice(at + 1) : authority,
    path: q >= 0 ? rest.slice(0, q) : rest,
    query: q >= 0 ? rest.slice(q + 1) : null,
  };
}

/** The user name an ssh URL may keep (no password); null for every other scheme. */
function keptUser(u: SplitUrl): string | null {
  if (!SSH_SCHEMES.has(u.scheme) || u.userinfo === null) return null;
  const colon = u.userinfo.indexOf(':');
  return colon >= 0 ? u.userinfo.slice(0, colon) : u.userinfo;
}

/**
 * The URL without any credential: `https://user:tok@host/r.git?x=1` → `https://host/r.git`;
 * `ssh://git:pw@host/r.git` → `ssh://git@host/r.git`; anything without a scheme is unchanged.
 */
export function publicRepoUrl(url: string): string {
  const u = splitUrl(url);
  if (!u) return url;
  const user = keptUser(u);
  return `${url.slice(0, u.scheme.length)}://${user ? `${user}@` : ''}${u.hostPort}${u.path}`;
}

/** True when `url` holds something publicRepoUrl removes. */
export function hasUrlCredentials(url: string): boolean {
  return publicRepoUrl(url) !== url;
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s; // not valid percent-encoding: the raw form is the secret
  }
}

/**
 * The secret strings in `url` — user info, password, query string and each query value, raw and
 * percent-decoded — so that they can be removed from any text (git echoes them outside URLs too).
 * Pieces shorter than 4 characters are left out: removing them everywhere would mangle text.
 */
export function urlSecrets(url: string): string[] {
  const u = splitUrl(url);
  if (!u) return [];
  const parts = new Set<string>();
  if (u.userinfo !== null && keptUser(u) !== u.userinfo) {
    parts.add(u.userinfo);
    const colon = u.userinfo.indexOf(':');
    if (colon >= 0) parts.add(u.userinfo.slice(colon + 1));
  }
  if (u.query !== null) {
    parts.add(u.query);
    for (const pair of u.query.split(/[&;#]/)) {
      const eq = pair.indexOf('=');
      parts.add(eq >= 0 ? pair.slice(eq + 1) : pair);
    }
  }
  for (const p of [...parts]) parts.add(decoded(p));
  return [...parts].filter((p) => p.length >= 4);
}

/** A `url = …` / `pushurl = …` line of a git config file (the value possibly quoted). */
const CONFIG_URL_LINE = /^(\s*(?:url|pushurl)\s*=\s*)("?)(.*?)\2(\s*(?:[#;].*)?)$/i;

/**
 * A git config file's text with every remote URL made public and every known secret replaced by
 * `***`. For workspaces made before URLs were scrubbed: their `origin` still carries the token
 * (possibly an older one than `secrets` knows, hence the per-line rewrite).
 */
export function scrubGitConfigText(text: string, secrets: readonly string[]): string {
  const lines = text.split('\n').map((line) => {
    const m = CONFIG_URL_LINE.exec(line);
    if (!m) return line;
    const [, lead = '', quote = '', value = '', tail = ''] = m;
    const clean = publicRepoUrl(value);
    return clean === value ? line : `${lead}${quote}${clean}${quote}${tail}`;
  });
  let out = lines.join('\n');
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s) out = out.split(s).join('***');
  return out;
}
