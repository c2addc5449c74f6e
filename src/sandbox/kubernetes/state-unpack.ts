/**
 * Extracts a returned state tar into fresh directories (one per tree), refusing anything
 * state-entry-check.ts does not allow. Only this module writes into those directories, so the map
 * of what it extracted is exactly what is on disk: that is what lets it refuse an entry below a
 * symlink without ever asking the filesystem to follow one. Files are opened with O_NOFOLLOW|O_EXCL
 * as a second guard.
 *
 * Symlinks are checked once the whole tar is read (a link may point at an entry that comes later);
 * directory modes and times are applied last, deepest first, so a read-only directory does not stop
 * its own content from being written.
 */
import { constants, createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { AirutError } from '../../errors.ts';
import { checkAncestors, checkEntryName, RETURNED_TOPS, shownName, symlinkStaysInside, type EntryKind, type ReturnedTop } from './state-entry-check.ts';

export interface StateLimits {
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxEntries: number;
}

interface Extracted {
  kind: EntryKind;
  target?: string;
  mode: number;
  mtime: Date;
}

function refuse(what: string, name?: string): AirutError {
  return new AirutError('KUBE_STATE_REJECTED', `${what} in the state the pod returned${name === undefined ? '' : `: ${shownName(name)}`}`);
}

/** Extracts `tarFile` into `roots` (tree name → fresh empty directory); throws KUBE_STATE_REJECTED on any refusal. */
export async function unpackInto(tarFile: string, roots: Readonly<Record<string, string>>, limits: StateLimits): Promise<{ files: number; bytes: number }> {
  const kinds = new Map<string, Extracted>();
  let entries = 0;
  let files = 0;
  let bytes = 0;
  const ex = tarExtract();
  const feeding = pipeline(createReadStream(tarFile), ex);
  feeding.catch(() => undefined);
  try {
    for await (const entry of ex) {
      const h = entry.header;
      if (++entries > limits.maxEntries) throw refuse(`more than ${limits.maxEntries} entries`);
      const v = checkEntryName(h.name);
      if (v.ok === false) throw refuse(v.why, h.name);
      if (v.ok === 'skip') {
        if (h.type !== 'directory') throw refuse('an entry without a name', h.name);
        entry.resume();
        continue;
      }
      const key = v.segments.join('/');
      if (h.type !== 'file' && h.type !== 'directory' && h.type !== 'symlink') throw refuse(`an entry of type ${h.type ?? 'unknown'} (only files, directories and symlinks are accepted)`, h.name);
      if (v.segments.length === 1 && h.type !== 'directory') throw refuse(`a top-level ${h.type} where a directory belongs`, h.name);
      const through = checkAncestors(v.segments, kinds);
      if (through) throw refuse(through, h.name);
      const before = kinds.get(key);
      if (before && !(before.kind === 'directory' && h.type === 'directory')) throw refuse('a duplicate entry', h.name);
      const abs = path.join(roots[v.top] as string, ...v.segments.slice(1));
      await makeParents(v.segments, roots[v.top] as string, kinds);
      const mode = h.mode ?? 0o644;
      const mtime = h.mtime ?? new Date();
      if (h.type === 'directory') {
        if (v.segments.length > 1 && !before) await fs.mkdir(abs, { mode: 0o700 });
        kinds.set(key, { kind: 'directory', mode, mtime });
        entry.resume();
      } else if (h.type === 'symlink') {
        const target = h.linkname ?? '';
        if (target === '' || target.includes('\0') || target.startsWith('/')) throw refuse('a symlink with an empty, absolute or NUL-holding target', h.name);
        await fs.symlink(target, abs);
        kinds.set(key, { kind: 'symlink', target, mode, mtime });
        entry.resume();
      } else {
        const size = h.size ?? 0;
        if (size > limits.maxFileBytes) throw refuse(`a file over ${limits.maxFileBytes} bytes`, h.name);
        if (bytes + size > limits.maxTotalBytes) throw refuse(`more than ${limits.maxTotalBytes} bytes in all`, h.name);
        bytes += size;
        files += 1;
        kinds.set(key, { kind: 'file', mode, mtime });
        await writeFile(abs, entry, mode, mtime);
      }
    }
    await feeding;
  } catch (err) {
    ex.destroy();
    if (err instanceof AirutError) throw err;
    throw refuse(`an unreadable tar (${(err as Error).message})`);
  }
  checkTopsAndLinks(kinds);
  await applyDirModes(kinds, roots);
  return { files, bytes };
}

/** Directories the tar did not list before their content are created (as 0o755 directories). */
async function makeParents(segments: readonly string[], root: string, kinds: Map<string, Extracted>): Promise<void> {
  for (let i = 1; i < segments.length; i++) {
    const key = segments.slice(0, i).join('/');
    if (kinds.has(key)) continue;
    if (i > 1) await fs.mkdir(path.join(root, ...segments.slice(1, i)), { mode: 0o700 });
    kinds.set(key, { kind: 'directory', mode: 0o755, mtime: new Date() });
  }
}

async function writeFile(abs: string, content: AsyncIterable<unknown>, mode: number, mtime: Date): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await fs.open(abs, flags, 0o600);
  try {
    for await (const chunk of content) await handle.write(chunk as Uint8Array);
    await handle.chmod((mode & 0o777) | 0o600);
    await handle.utimes(mtime, mtime);
  } finally {
    await handle.close();
  }
}

/** Every tree must be there (a missing one would empty the host's), and every symlink must stay in its tree. */
function checkTopsAndLinks(kinds: ReadonlyMap<string, Extracted>): void {
  for (const top of RETURNED_TOPS) {
    if (kinds.get(top)?.kind !== 'directory') throw refuse(`no ${top}/ directory`);
  }
  for (const [key, e] of kinds) {
    if (e.kind === 'symlink' && !symlinkStaysInside(key.split('/'), e.target ?? '', kinds)) {
      throw refuse('a symlink that leaves its directory', `${key} -> ${e.target ?? ''}`);
    }
  }
}

async function applyDirModes(kinds: ReadonlyMap<string, Extracted>, roots: Readonly<Record<string, string>>): Promise<void> {
  const dirs = [...kinds].filter(([, e]) => e.kind === 'directory').sort(([a], [b]) => b.split('/').length - a.split('/').length);
  for (const [key, e] of dirs) {
    const [top, ...rest] = key.split('/');
    const abs = path.join(roots[top as ReturnedTop] as string, ...rest);
    await fs.chmod(abs, (e.mode & 0o777) | 0o700);
    await fs.utimes(abs, e.mtime, e.mtime);
  }
}
