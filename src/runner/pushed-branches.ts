/**
 * The reply's line about pushed work: which branches (and tags) the task pushed, and where, from
 * the proxy's view of the task's git pushes (the network log's `pushed` refs, see
 * src/proxy/git-push-watch.ts) — what the upstream accepted, not what the agent says it did.
 */
import type { TaskPush } from '../store/network-log.ts';

/** `refs/heads/x` → branch `x`; `refs/tags/v1` → tag `v1`; other refs by their full name. */
function describeRef(ref: string): { kind: 'branch' | 'tag' | 'ref'; name: string } {
  if (ref.startsWith('refs/heads/')) return { kind: 'branch', name: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { kind: 'tag', name: ref.slice('refs/tags/'.length) };
  return { kind: 'ref', name: ref };
}

/** A markdown code span that holds any text (ref names may contain backticks). */
function code(text: string): string {
  const clean = text.replace(/[\r\n]/g, ' ');
  const longest = Math.max(0, ...[...clean.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 || clean.startsWith(' ') || clean.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}

function plural(kind: string, n: number): string {
  return n === 1 ? kind : kind === 'branch' ? 'branches' : `${kind}s`;
}

/** One sentence per repository pushed to; '' when the task pushed nothing. */
export function pushedMarkdown(pushes: readonly TaskPush[]): string {
  const lines: string[] = [];
  for (const push of pushes) {
    if (push.refs.length === 0) continue;
    const byKind = new Map<string, string[]>();
    for (const ref of push.refs) {
      const d = describeRef(ref);
      byKind.set(d.kind, [...(byKind.get(d.kind) ?? []), code(d.name)]);
    }
    const what = [...byKind].map(([kind, names]) => `${plural(kind, names.length)} ${names.join(', ')}`).join(' and ');
    lines.push(`Pushed ${what} to ${code(`${push.host}${push.repoPath}`)}.`);
  }
  return lines.join('\n\n');
}
