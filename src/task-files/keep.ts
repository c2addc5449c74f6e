/**
 * Keeps a copy of one of a task's files for the dashboard (the mail's attachments, the outbox files
 * sent with its reply) and records it in task_files, under the task's cap
 * (`task_output.max_kept_file_bytes_per_task`). The copy is made from what was already checked —
 * the parsed attachment's bytes, or the outbox file's handle opened without following a symlink —
 * never by opening a path again, and never more than the checked size. It is written to a
 * temporary name and renamed once whole, so a kept path never names half a file. Keeping is a
 * courtesy to the dashboard: a failure is recorded as "not kept" and logged, never fails the task.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { Db } from '../store/database.ts';
import { addTaskFile, keptFileBytes, type TaskFileDirection } from '../store/task-content.ts';
import { newKeptPath } from './kept-path.ts';

/** The note of a file the task's cap left out; the dashboard shows it as "not kept: …". */
export const OVER_CAP_NOTE = 'over task_output.max_kept_file_bytes_per_task';

const CHUNK_BYTES = 1 << 20;
const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;

/** Where a run keeps its files: one repository's storage, one conversation. */
export interface KeepTarget {
  readonly db: Db;
  /** The repository's storage directory (task_files.path is relative to it). */
  readonly storageDir: string;
  readonly conversationId: string;
  /** `task_output.max_kept_file_bytes_per_task`; 0 keeps none. */
  readonly capBytes: number;
  readonly log: Logger;
}

/** The bytes to keep: a parsed attachment's, or an open outbox file's first `size` bytes. */
export type KeptContent =
  | { readonly kind: 'bytes'; readonly data: Uint8Array }
  | { readonly kind: 'handle'; readonly handle: FileHandle; readonly size: number };

export interface FileToKeep {
  readonly taskId: number;
  readonly direction: TaskFileDirection;
  /** The name as sent or attached: recorded and shown, never a path. */
  readonly name: string;
  readonly contentType: string;
  readonly content: KeptContent;
}

/** Keeps the file if the task's cap allows, records it either way; returns the task_files id. */
export async function keepTaskFile(t: KeepTarget, f: FileToKeep): Promise<number> {
  const size = f.content.kind === 'bytes' ? f.content.data.length : f.content.size;
  const row = { taskId: f.taskId, direction: f.direction, name: f.name, contentType: f.contentType };
  // A cap of 0 keeps nothing, not even an empty file.
  if (t.capBytes === 0 || keptFileBytes(t.db, f.taskId) + size > t.capBytes) {
    return addTaskFile(t.db, { ...row, size, path: null, sha256: null, note: OVER_CAP_NOTE });
  }
  const rel = newKeptPath(t.conversationId, f.taskId);
  try {
    const written = await writeWhole(path.join(t.storageDir, rel), f.content);
    return addTaskFile(t.db, { ...row, size: written.bytes, path: rel, sha256: written.sha256, note: null });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    t.log.warn({ task: f.taskId, direction: f.direction, err: (err as Error).message }, 'could not keep a copy of a task file for the dashboard');
    return addTaskFile(t.db, { ...row, size, path: null, sha256: null, note: `could not be kept${code ? ` (${code})` : ''}` });
  }
}

/** Writes the content to `file` through a temporary file; returns what was written. */
async function writeWhole(file: string, content: KeptContent): Promise<{ bytes: number; sha256: string }> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.part`;
  const out = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o600);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of chunks(content)) {
      hash.update(chunk);
      await out.write(chunk);
      bytes += chunk.length;
    }
    await out.sync();
    await out.close();
    await fs.rename(tmp, file);
  } catch (err) {
    await out.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * The content in chunks; a handle is read by position from 0 up to the checked size at most (a
 * file that grew since is cut there, one that shrank ends early), so the reply's own stream of the
 * same handle is not disturbed.
 */
async function* chunks(content: KeptContent): AsyncGenerator<Uint8Array> {
  if (content.kind === 'bytes') {
    if (content.data.length) yield content.data;
    return;
  }
  let pos = 0;
  while (pos < content.size) {
    const buf = Buffer.alloc(Math.min(CHUNK_BYTES, content.size - pos));
    const { bytesRead } = await content.handle.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}
