/**
 * The `Repos:` line of a task's mail: the companion repositories it asks for (docs/multi-repo.md).
 * Only the body's FIRST non-empty line counts, so a line quoted or pasted further down never
 * widens what a task sees. Pure. Read by the runner, which parses the body anyway: it takes the
 * line out of the prompt, asks for the companions it names, or refuses a malformed one with the
 * reason. Listeners never parse bodies (their bundle is paid once per repository).
 *
 *   Repos: backend, docs:read, tools@release-2:write
 *
 * Entries are separated by commas and/or spaces; each is `name`, `name:read|write`,
 * `name@branch`, or `name@branch:access`.
 */
import type { RepoAccess, RequestedRepo } from '../protocol/requested-repos.ts';

/** Past this, the line is refused rather than parsed (nobody names a dozen repositories by hand). */
export const MAX_REPOS_LINE_CHARS = 1000;
export const MAX_REQUESTED_REPOS = 10;

/** Same shape as a repository id (src/config/rules.ts REPO_ID_PATTERN): no `/`, no `..`. */
const NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/** A plain branch name: no `..`, no leading `-` (never an option to git), no `@{`, spaces or control characters. */
const BRANCH = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;
const KEY = /^repos[ \t]*:/i;

export type ReposLine =
  /** No `Repos:` line: the primary alone. `body` is the text unchanged. */
  | { readonly kind: 'none'; readonly body: string }
  | { readonly kind: 'repos'; readonly repos: readonly RequestedRepo[]; readonly body: string }
  /** A `Repos:` line that could not be read; `problem` is written for the sender. */
  | { readonly kind: 'invalid'; readonly problem: string; readonly body: string };

export function parseReposLine(bodyText: string): ReposLine {
  const lines = bodyText.split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim() !== '');
  if (at < 0 || !KEY.test(lines[at]!.trim())) return { kind: 'none', body: bodyText };
  const line = lines[at]!.trim();
  const body = [...lines.slice(0, at), ...lines.slice(at + 1)].join('\n').replace(/^\s*\n/, '');
  const invalid = (problem: string): ReposLine => ({ kind: 'invalid', problem, body });
  if (line.length > MAX_REPOS_LINE_CHARS) return invalid(`the Repos: line is longer than ${MAX_REPOS_LINE_CHARS} characters`);
  const entries = line.replace(KEY, '').split(/[\s,]+/).filter((e) => e !== '');
  if (entries.length === 0) return invalid('the Repos: line names no repository');
  if (entries.length > MAX_REQUESTED_REPOS) return invalid(`the Repos: line names ${entries.length} repositories; at most ${MAX_REQUESTED_REPOS} are allowed`);
  const repos: RequestedRepo[] = [];
  for (const entry of entries) {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') return invalid(parsed);
    if (repos.some((r) => r.name === parsed.name)) return invalid(`the Repos: line names ${parsed.name} twice`);
    repos.push(parsed);
  }
  return { kind: 'repos', repos, body };
}

/** One entry, or the problem with it. */
function parseEntry(entry: string): RequestedRepo | string {
  const shown = JSON.stringify(entry.slice(0, 80));
  const m = /^([^@:]*)(?:@([^:]*))?(?::([^:]*))?$/.exec(entry);
  if (!m) return `${shown} in the Repos: line is not of the form name, name:read, name@branch or name@branch:write`;
  const [, name = '', branch, access] = m;
  if (!NAME.test(name)) return `${shown} in the Repos: line is not a repository name (lowercase letters, digits, - and _)`;
  if (branch !== undefined && !isBranchName(branch)) return `${shown} in the Repos: line does not name a valid branch`;
  const level = access?.toLowerCase();
  if (level !== undefined && level !== 'read' && level !== 'write') return `${shown} in the Repos: line: the access must be read or write`;
  return { name, ...(branch !== undefined ? { branch } : {}), ...(level !== undefined ? { access: level as RepoAccess } : {}) };
}

export function isBranchName(branch: string): boolean {
  return BRANCH.test(branch) && !branch.includes('..') && !branch.includes('//') && !branch.endsWith('/') && !branch.endsWith('.lock');
}
