/**
 * The files of a conversation's `outbox/` that go out with a reply, opened for streaming.
 *
 * Nothing here reads a file into memory: each accepted file is opened once (no symlink followed,
 * no FIFO waited on) and handed to the mail composer as a stream limited to the size that was
 * checked, so a file that grows after the check cannot push more than that into the reply. The
 * caps are applied by selectOutboxFiles (conversation/outbox-selection.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import type { TaskOutputLimits } from '../config/types.ts';
import { selectOutboxFiles, type ConversationStore, type NotAttachedFile } from '../conversation/index.ts';
import type { ReplyAttachment } from '../reply/compose.ts';

/** Entries of `outbox/` looked at one by one; an agent can create millions, we never list them all. */
const MAX_SCANNED_ENTRIES = 1000;

/** An attached file's open handle and checked size, for the copy kept for the dashboard (src/runner/kept-files.ts). */
export interface SentOutboxFile {
  readonly name: string;
  readonly handle: FileHandle;
  readonly size: number;
}

export interface OutboxAttachments {
  readonly attachments: readonly ReplyAttachment[];
  /** The attached files, open until close(). */
  readonly files: readonly SentOutboxFile[];
  readonly notAttached: readonly NotAttachedFile[];
  /** Closes the files (after the reply is written, or when it could not be). Safe to call twice. */
  close(): Promise<void>;
}

export async function openOutboxAttachments(store: ConversationStore, conversationId: string, limits: TaskOutputLimits): Promise<OutboxAttachments> {
  const { entries, unexamined } = await store.scanOutbox(conversationId, MAX_SCANNED_ENTRIES);
  const selection = selectOutboxFiles(
    entries,
    { maxFileBytes: limits.maxOutboxFileBytes, maxTotalBytes: limits.maxOutboxTotalBytes, maxFiles: limits.maxOutboxFiles },
    unexamined,
  );
  const handles: FileHandle[] = [];
  const attachments: ReplyAttachment[] = [];
  const files: SentOutboxFile[] = [];
  const notAttached: NotAttachedFile[] = [...selection.notAttached];
  for (const chosen of selection.attach) {
    let opened;
    try {
      opened = await store.openOutboxFile(conversationId, chosen.name);
    } catch (err) {
      notAttached.push({ name: chosen.name, bytes: 0, reason: 'not_regular', why: `could not be opened safely (${(err as Error).message})` });
      continue;
    }
    // Swapped or grown since the scan: what was checked is no longer what is there.
    if (opened.bytes > chosen.bytes) {
      await opened.handle.close();
      notAttached.push({ name: chosen.name, bytes: opened.bytes, reason: 'file_too_large', why: 'it changed while the reply was being written' });
      continue;
    }
    handles.push(opened.handle);
    files.push({ name: chosen.name, handle: opened.handle, size: opened.size });
    attachments.push({
      filename: chosen.name,
      content: opened.size === 0 ? Buffer.alloc(0) : opened.handle.createReadStream({ start: 0, end: opened.size - 1, autoClose: false }),
    });
  }
  let closed = false;
  return {
    attachments,
    files,
    notAttached,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    },
  };
}
