/**
 * A conversation's state, carried to a pod and back as one tar (issue 21): the pod has no access to
 * the daemon's disk, and needing no cluster storage keeps the backend usable on any cluster.
 *
 * In: the five host directories under `workspace/ claude/ inbox/ outbox/ storage/`, plus
 * `airut/input.jsonl` (the prompt) and `airut/args` (claude's arguments, one a line) — so neither
 * appears in the pod spec, which anyone allowed to read pods can see.
 * Out: whatever pod-entry.sh packed from workspace, claude, outbox and storage. It is extracted into
 * fresh directories next to the host's (same filesystem), checked entry by entry against
 * state-entry-check.ts, and only when the whole tar passed are the directories swapped in. A refused
 * bundle therefore leaves the host directories exactly as they were.
 *
 * Files are streamed both ways (a multi-gigabyte workspace never sits in memory). Owners are not
 * carried (uid/gid 0 in, ignored out); modes are masked to 0o777, so no setuid bit survives, and
 * the daemon keeps owner read/write on what it extracts so it can pack and remove it later.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Pack } from 'tar-stream';
import { AirutError } from '../../errors.ts';
import { unpackInto, type StateLimits } from './state-unpack.ts';

export interface StateDirs {
  readonly workspace: string;
  readonly claudeState: string;
  readonly inbox: string;
  readonly outbox: string;
  readonly storage: string;
}

export type { StateLimits } from './state-unpack.ts';

/** Writes the state-in tar: the five dirs under workspace/ claude/ inbox/ outbox/ storage/, plus airut/input.jsonl and airut/args. */
export async function packStateIn(
  dirs: StateDirs,
  extra: { readonly inputJsonl: string; readonly args: readonly string[]; readonly command?: string },
  outFile: string,
): Promise<{ bytes: number }> {
  const argsText = formatArgs(extra.args);
  const tar = tarPack();
  const written = pipeline(tar, createWriteStream(outFile, { mode: 0o600 }));
  // Attach a handler now: if packing fails below, the pipeline's own rejection must not go unhandled.
  written.catch(() => undefined);
  try {
    const trees: Array<[string, string]> = [
      ['workspace', dirs.workspace],
      ['claude', dirs.claudeState],
      ['inbox', dirs.inbox],
      ['outbox', dirs.outbox],
      ['storage', dirs.storage],
    ];
    for (const [name, dir] of trees) await packTree(tar, name, dir);
    await addEntry(tar, { name: 'airut/', type: 'directory', mode: 0o755 });
    await addEntry(tar, { name: 'airut/input.jsonl', type: 'file', mode: 0o644 }, Buffer.from(extra.inputJsonl));
    await addEntry(tar, { name: 'airut/args', type: 'file', mode: 0o644 }, Buffer.from(argsText));
    if (extra.command !== undefined) await addEntry(tar, { name: 'airut/command', type: 'file', mode: 0o644 }, Buffer.from(extra.command));
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
    await written.catch(() => undefined);
    await fs.rm(outFile, { force: true });
    throw err;
  }
  await written;
  return { bytes: (await fs.stat(outFile)).size };
}

/** claude's arguments, one a line; pod-entry.sh reads them back with `read -r`, so no argument may hold a line break. */
function formatArgs(args: readonly string[]): string {
  for (const [i, a] of args.entries()) {
    if (/[\n\r\0]/.test(a)) {
      throw new AirutError('SANDBOX_SPEC_INVALID', `claude argument ${i + 1} contains a line break or NUL byte, which the pod's argument file cannot carry`);
    }
  }
  return args.map((a) => `${a}\n`).join('');
}

interface EntryHeader {
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly mode: number;
  readonly size?: number;
  readonly linkname?: string;
  readonly mtime?: Date;
}

/** Adds one entry; a file's content is streamed from `source` (a path) or given as a buffer. */
function addEntry(tar: Pack, h: EntryHeader, content?: Buffer | string): Promise<void> {
  const header = { ...h, mode: h.mode & 0o777, uid: 0, gid: 0, uname: '', gname: '', mtime: h.mtime ?? new Date() };
  if (Buffer.isBuffer(content)) {
    return new Promise((resolve, reject) => tar.entry({ ...header, size: content.length }, content, (err) => (err ? reject(err) : resolve())));
  }
  if (typeof content === 'string') {
    let done: (err?: Error | null) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => (done = (err) => (err ? reject(err) : resolve())));
    const sink = tar.entry(header, done);
    return pipeline(createReadStream(content), sink).then(() => finished);
  }
  return new Promise((resolve, reject) => {
    tar.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}

/** One host directory under `name/`, depth first, in name order; sockets, fifos and devices are skipped. */
async function packTree(tar: Pack, name: string, dir: string): Promise<void> {
  const st = await fs.stat(dir);
  await addEntry(tar, { name: `${name}/`, type: 'directory', mode: st.mode, mtime: st.mtime });
  const walk = async (rel: string): Promise<void> => {
    const entries = (await fs.readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const relPath = rel === '' ? e.name : `${rel}/${e.name}`;
      const abs = path.join(dir, relPath);
      const tarName = `${name}/${relPath}`;
      const s = await fs.lstat(abs);
      if (s.isDirectory()) {
        await addEntry(tar, { name: `${tarName}/`, type: 'directory', mode: s.mode, mtime: s.mtime });
        await walk(relPath);
      } else if (s.isSymbolicLink()) {
        await addEntry(tar, { name: tarName, type: 'symlink', mode: 0o777, linkname: await fs.readlink(abs), mtime: s.mtime });
      } else if (s.isFile()) {
        await addEntry(tar, { name: tarName, type: 'file', mode: s.mode, size: s.size, mtime: s.mtime }, abs);
      }
    }
  };
  await walk('');
}

/** Replaces the content of workspace, claudeState, outbox and storage with the tar's; rejects hostile entries with AirutError('KUBE_STATE_REJECTED', …) leaving the host dirs unchanged. */
export async function unpackStateOut(tarFile: string, dirs: StateDirs, limits: StateLimits): Promise<{ files: number; bytes: number }> {
  const targets = { workspace: dirs.workspace, claude: dirs.claudeState, outbox: dirs.outbox, storage: dirs.storage };
  const fresh: Record<string, string> = {};
  try {
    for (const [top, target] of Object.entries(targets)) {
      await fs.mkdir(path.dirname(target), { recursive: true });
      fresh[top] = await fs.mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.in-`));
    }
    const counts = await unpackInto(tarFile, fresh, limits);
    await swapIn(Object.entries(targets).map(([top, target]) => ({ fresh: fresh[top] as string, target })));
    return counts;
  } finally {
    for (const dir of Object.values(fresh)) await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Moves every old directory away, then every new one in, then removes the old ones. Validation is
 * complete before this runs, so only a filesystem failure can stop it midway; then what was already
 * moved is put back, so the host keeps its previous state.
 */
async function swapIn(pairs: ReadonlyArray<{ readonly fresh: string; readonly target: string }>): Promise<void> {
  const moved: Array<{ target: string; old: string | null; placed: boolean }> = [];
  try {
    for (const p of pairs) {
      const old = `${p.fresh}.old`;
      const existed = await fs.rename(p.target, old).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return false;
          throw err;
        },
      );
      moved.push({ target: p.target, old: existed ? old : null, placed: false });
    }
    for (const [i, p] of pairs.entries()) {
      await fs.rename(p.fresh, p.target);
      (moved[i] as { placed: boolean }).placed = true;
    }
  } catch (err) {
    for (const m of moved.reverse()) {
      if (m.placed) await fs.rm(m.target, { recursive: true, force: true }).catch(() => undefined);
      if (m.old) await fs.rename(m.old, m.target).catch(() => undefined);
    }
    throw err;
  }
  for (const m of moved) if (m.old) await fs.rm(m.old, { recursive: true, force: true });
}
