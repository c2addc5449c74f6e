/**
 * The rules a tar entry of a returned conversation state must pass (pure: names in, verdicts out).
 *
 * The tar comes from a pod, which ran whatever the agent chose to run: every byte of it is hostile
 * input. state-bundle.ts applies these rules while it extracts into fresh directories, so a refused
 * bundle never touches the host's directories.
 *
 * Decisions:
 * - Only the four trees the pod hands back are accepted: `workspace/`, `claude/`, `outbox/`,
 *   `storage/`. Anything else (an `inbox/`, the `airut/` control files, a stray top-level file) is
 *   refused rather than ignored: pod-entry.sh never packs them, so their presence means the bundle
 *   was not made by it, and a refusal is easier to notice than silently dropped data.
 * - A symlink may point anywhere inside its own tree, dangling or not, but resolving it must never
 *   leave that tree at any step — not even to come back (`../workspace/x` from `claude/`), since
 *   on the host the trees are directories with other names and other neighbours. Resolution
 *   follows the links already in the bundle, so `a/b/up -> ../..` then `a/b/t -> up/..` is caught.
 * - An entry below a path that is a symlink or a file is refused: extraction never writes through
 *   a link.
 */

export const RETURNED_TOPS = ['workspace', 'claude', 'outbox', 'storage'] as const;
export type ReturnedTop = (typeof RETURNED_TOPS)[number];

/** Most links followed while resolving one symlink (as the kernel's MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

export type EntryKind = 'file' | 'directory' | 'symlink';

export type NameVerdict = { readonly ok: true; readonly segments: readonly string[]; readonly top: ReturnedTop } | { readonly ok: false; readonly why: string } | { readonly ok: 'skip' };

/** Splits and checks an entry name: relative, no `..`, no NUL, under one of the four trees. */
export function checkEntryName(name: string): NameVerdict {
  if (name.includes('\0')) return { ok: false, why: 'a name with a NUL byte' };
  if (name.startsWith('/')) return { ok: false, why: 'an absolute path' };
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length === 0) return { ok: 'skip' }; // the archive's own "./" entry
  if (segments.includes('..')) return { ok: false, why: 'a path with a ".." segment' };
  const top = segments[0] as ReturnedTop;
  if (!RETURNED_TOPS.includes(top)) return { ok: false, why: `an entry outside ${RETURNED_TOPS.map((t) => `${t}/`).join(', ')}` };
  return { ok: true, segments, top };
}

/** The kind already extracted at each path (joined with '/'); exactly what is on disk. */
export type ExtractedKinds = ReadonlyMap<string, { readonly kind: EntryKind; readonly target?: string }>;

/** Why an entry may not be written at `segments`, or null: no ancestor may be a symlink or a file. */
export function checkAncestors(segments: readonly string[], kinds: ExtractedKinds): string | null {
  for (let i = 1; i < segments.length; i++) {
    const k = kinds.get(segments.slice(0, i).join('/'))?.kind;
    if (k === 'symlink') return 'an entry written through a symlink';
    if (k === 'file') return 'an entry below a file';
  }
  return null;
}

/**
 * Whether the symlink at `segments` (first segment = its tree) resolves inside its tree at every
 * step, following the links in `kinds`. A link that loops or needs too many hops is refused.
 */
export function symlinkStaysInside(segments: readonly string[], target: string, kinds: ExtractedKinds): boolean {
  if (target === '' || target.includes('\0')) return false;
  const cur = segments.slice(0, -1);
  let pending = target.split('/');
  if (target.startsWith('/')) return false;
  let hops = 0;
  while (pending.length > 0) {
    const seg = pending.shift() as string;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (cur.length <= 1) return false; // would leave the tree
      cur.pop();
      continue;
    }
    cur.push(seg);
    const e = kinds.get(cur.join('/'));
    if (e?.kind === 'symlink') {
      if (++hops > MAX_LINK_HOPS) return false;
      const t = e.target ?? '';
      if (t === '' || t.startsWith('/')) return false;
      cur.pop();
      pending = [...t.split('/'), ...pending];
    }
  }
  return true;
}

/** An entry name as it may appear in an error message: escaped, and cut to a readable length. */
export function shownName(name: string): string {
  const s = JSON.stringify(name);
  return s.length > 160 ? `${s.slice(0, 150)}…" (${name.length} characters)` : s;
}
