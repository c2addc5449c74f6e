/**
 * Which files of a conversation's `outbox/` go out with the reply. Pure: data in, verdict out.
 *
 * The agent controls that directory completely, so every size is hostile. A sparse file costs no
 * disk but reads as gigabytes of zeros; a file with preallocated blocks can be "small" in st_size
 * yet occupy the disk. A file therefore counts as the larger of its apparent size (st_size) and its
 * allocated size (st_blocks × 512), and the caps (per file, per reply, number of files) apply to
 * that. Anything that is not a regular file — symlink, FIFO, socket, device, directory — is never
 * attached (opening a FIFO blocks, a symlink points anywhere on the host) and is listed instead.
 */
import { formatBytes } from '../limits/bytes.ts';

export type OutboxEntryKind = 'file' | 'symlink' | 'directory' | 'fifo' | 'socket' | 'device' | 'other';

/** One directory entry as lstat saw it; never followed. */
export interface OutboxEntry {
  readonly name: string;
  readonly kind: OutboxEntryKind;
  /** st_size. */
  readonly size: number;
  /** st_blocks (512-byte units, whatever the file system's block size). */
  readonly blocks: number;
}

export interface OutboxCaps {
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxFiles: number;
}

export type NotAttachedReason = 'not_regular' | 'file_too_large' | 'total_too_large' | 'too_many_files' | 'not_examined';

export interface NotAttachedFile {
  readonly name: string;
  /** The size counted against the caps (0 for entries that are not regular files). */
  readonly bytes: number;
  readonly reason: NotAttachedReason;
  /** One sentence for the reply. */
  readonly why: string;
}

export interface OutboxSelection {
  /** In name order; `bytes` is what was counted, the most that may be read. */
  readonly attach: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
  readonly notAttached: readonly NotAttachedFile[];
  readonly attachedBytes: number;
}

/** The size a file counts as: apparent or allocated, whichever is larger. */
export function countedBytes(size: number, blocks: number): number {
  return Math.max(size, blocks * 512);
}

const KIND_WORDS: Record<Exclude<OutboxEntryKind, 'file'>, string> = {
  symlink: 'a symbolic link',
  directory: 'a directory',
  fifo: 'a named pipe',
  socket: 'a socket',
  device: 'a device file',
  other: 'not a regular file',
};

/**
 * Applies the caps in name order. A file over the per-file cap, or one that would take the reply
 * over its total, is skipped and the next ones are still considered (a small file after a large one
 * still goes out). `unexamined` names entries the directory scan did not look at (see
 * ConversationStore.scanOutbox); they are reported, never attached.
 */
export function selectOutboxFiles(entries: readonly OutboxEntry[], caps: OutboxCaps, unexamined = 0): OutboxSelection {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const attach: Array<{ name: string; bytes: number }> = [];
  const notAttached: NotAttachedFile[] = [];
  let total = 0;
  for (const e of sorted) {
    if (e.kind !== 'file') {
      notAttached.push({ name: e.name, bytes: 0, reason: 'not_regular', why: `${KIND_WORDS[e.kind]}; only regular files are attached` });
      continue;
    }
    const bytes = countedBytes(e.size, e.blocks);
    if (bytes > caps.maxFileBytes) {
      notAttached.push({ name: e.name, bytes, reason: 'file_too_large', why: `larger than the limit of ${formatBytes(caps.maxFileBytes)} per file` });
    } else if (attach.length >= caps.maxFiles) {
      notAttached.push({ name: e.name, bytes, reason: 'too_many_files', why: `more than ${caps.maxFiles} files in one reply` });
    } else if (total + bytes > caps.maxTotalBytes) {
      notAttached.push({
        name: e.name,
        bytes,
        reason: 'total_too_large',
        why: `the reply would exceed its limit of ${formatBytes(caps.maxTotalBytes)} of attachments`,
      });
    } else {
      attach.push({ name: e.name, bytes });
      total += bytes;
    }
  }
  if (unexamined > 0) {
    notAttached.push({
      name: `(${unexamined} more ${unexamined === 1 ? 'entry' : 'entries'})`,
      bytes: 0,
      reason: 'not_examined',
      why: 'the outbox held too many entries to look at them all',
    });
  }
  return { attach, notAttached, attachedBytes: total };
}

/** Most not-attached files named one by one in a reply; the rest are counted. */
const MAX_LISTED = 50;

/**
 * The paragraph a reply carries about files it does not attach, as markdown; '' when none. File
 * names come from the agent: control characters and backticks are replaced so a name cannot break
 * out of its code span or forge lines of the reply.
 */
export function notAttachedMarkdown(files: readonly NotAttachedFile[]): string {
  if (files.length === 0) return '';
  const lines = files.slice(0, MAX_LISTED).map((f) => {
    const size = f.reason === 'not_regular' || f.reason === 'not_examined' ? '' : ` (${formatBytes(f.bytes)})`;
    return `- \`${displayName(f.name)}\`${size}: ${f.why}`;
  });
  if (files.length > MAX_LISTED) lines.push(`- … and ${files.length - MAX_LISTED} more`);
  return `**Not attached** — these entries of /outbox/ were left out:\n\n${lines.join('\n')}`;
}

function displayName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029`]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 119)}…` : clean;
}
