/**
 * Attachments of the mail behind a task, read again from the stored raw message (the listener
 * keeps only metadata) and saved into the conversation's inbox/ under safe names.
 */
import { simpleParser } from 'mailparser';
import type { ConversationStore } from '../conversation/index.ts';
import { MIME_LIMITS } from '../email/mime-limits.ts';
import { isInlinePart } from '../email/mime-structure.ts';
import { isSentAttachment } from '../limits/message-limits.ts';

export interface SavedAttachment {
  readonly sentName: string;
  readonly savedName: string;
  readonly size: number;
  /** As the mail declared it (a kept copy is served by it, within a safe list). */
  readonly contentType: string;
  /** The decoded bytes, as saved (the dashboard keeps a copy of them). */
  readonly content: Buffer;
}

export async function saveAttachments(raw: Buffer, store: ConversationStore, conversationId: string): Promise<SavedAttachment[]> {
  const parsed = await simpleParser(raw, {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
    ...MIME_LIMITS,
  } as Parameters<typeof simpleParser>[1]);
  const saved: SavedAttachment[] = [];
  for (const a of parsed.attachments ?? []) {
    // Inline parts without a file name (signatures, embedded images) are not something the sender
    // attached; the same rule decides what counts against `max_attachments`.
    if (!isSentAttachment({ filename: a.filename ?? null, inline: isInlinePart(a) })) continue;
    const sentName = a.filename ?? '';
    const savedName = await store.saveAttachment(conversationId, sentName, a.content);
    saved.push({ sentName, savedName, size: a.size ?? a.content.length, contentType: a.contentType || 'application/octet-stream', content: a.content });
  }
  return saved;
}
