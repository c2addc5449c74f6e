/**
 * What a repo's listener needs from a message's MIME body, without reading the body: the list of
 * attachments (name, type, decoded size, inline or not) for the size and count limits, whether the
 * structure broke the reader's bounds, and the Subject as a MIME reader decodes it.
 *
 * Why not mailparser here: the listener runs once per repo, each in its own V8 isolate, and
 * mailparser brings an HTML-to-text converter, an HTML parser, entity tables and a linkifier that
 * the listener never uses (about 4 MiB per repo: docs/benchmarks.md, scale). This reader walks the
 * same MIME splitter mailparser is built on (mailsplit, already loaded by imapflow) and classifies
 * parts with mailparser's rules, so it lists the same attachments the runner later saves through
 * mailparser (src/runner/attachments.ts); test/email/mime-structure.test.ts holds the two to the
 * same answers over the test corpora. It also counts attachment bytes instead of holding them.
 */
import { Readable } from 'node:stream';
import { Splitter, type MimeNode } from '@zone-eu/mailsplit';
import libmime from 'libmime';
import { MIME_LIMITS } from './mime-limits.ts';
import { problemText } from './text.ts';

/** What is known about an attachment without keeping its bytes (they are re-read from the raw message). */
export interface AttachmentInfo {
  /** As the sender named it: may be null, empty, contain path parts or be hostile. Sanitize before use. */
  readonly filename: string | null;
  readonly contentType: string;
  /** Decoded bytes. */
  readonly size: number;
  /** Shown inline by the sender's client (a pasted image, a related part). */
  readonly inline: boolean;
}

export interface MimeStructure {
  readonly attachments: readonly AttachmentInfo[];
  /** The first Subject header as a MIME reader decodes it, or null (none, or the structure was unreadable). */
  readonly subject: string | null;
  /**
   * The MIME structure broke one of the reader's own bounds (`MIME_LIMITS`), so the attachments
   * could not be read: too many parts, or a part's header section too large.
   */
  readonly structureLimit: 'parts' | 'header' | null;
  /** Why the structure could not be read, for `problems`; null when it could. */
  readonly problem: string | null;
}

/** A part the sender's client shows inside the text (a pasted image, a part of multipart/related). */
export function isInlinePart(a: { readonly contentDisposition?: string; readonly related?: boolean }): boolean {
  return a.contentDisposition === 'inline' || a.related === true;
}

/**
 * How the reader tells an error that broke its bounds from other failures; the same test applies
 * to mailparser's errors (src/email/parse.ts), which come from the same splitter.
 */
export function structureLimitOf(err: unknown): MimeStructure['structureLimit'] {
  if ((err as { code?: unknown }).code !== 'EMAXLEN') return null;
  return /child nodes/i.test(problemText(err)) ? 'parts' : 'header';
}

/** Parts mailparser reads as text when they come inline; anything else is an attachment. */
const TEXT_TYPES = ['text/plain', 'text/html', 'message/delivery-status'];
/** Feeds the splitter in slices, so that no single step of it works on the whole of a large mail. */
const SLICE_BYTES = 64 * 1024;

/** Never throws: a structure it cannot read gives no attachments and a `problem`. */
export async function readMimeStructure(raw: Buffer): Promise<MimeStructure> {
  const attachments: AttachmentInfo[] = [];
  const sizes: Promise<void>[] = [];
  let subject: string | null = null;
  let decoder: NodeJS.ReadWriteStream | null = null;
  const endPart = (): void => {
    decoder?.end();
    decoder = null;
  };

  const splitter = new Splitter({ ...MIME_LIMITS });
  Readable.from(slices(raw)).pipe(splitter);
  try {
    for await (const chunk of splitter as AsyncIterable<MimeNode | { type: 'data' | 'body'; value: Buffer }>) {
      if (chunk.type === 'node') {
        endPart();
        const node = chunk;
        if (node.root) subject = subjectOf(node);
        // Only attachments are decoded (to count their bytes); text parts' bodies are skipped.
        const attachment = attachmentOf(node);
        if (attachment === null) continue;
        decoder = node.getDecoder() as NodeJS.ReadWriteStream;
        const entry = { ...attachment, size: 0 };
        attachments.push(entry);
        sizes.push(countBytes(decoder, (n) => (entry.size += n)));
      } else if (chunk.type === 'data') {
        endPart();
      } else if (decoder && !decoder.write(chunk.value)) {
        await new Promise((resolve) => decoder!.once('drain', resolve));
      }
    }
    endPart();
    await Promise.all(sizes);
  } catch (err) {
    endPart();
    // The counts of a structure given up on are not used; their ends must not go unhandled.
    void Promise.allSettled(sizes);
    return { attachments: [], subject: null, structureLimit: structureLimitOf(err), problem: `the MIME structure could not be parsed: ${problemText(err)}` };
  }
  return { attachments, subject, structureLimit: null, problem: null };
}

/**
 * The part as mailparser would list it among the attachments (MailParser#createNode and
 * #processChunk), without its size; null for a text part, a multipart or an embedded message that
 * the splitter opens up.
 */
function attachmentOf(node: MimeNode): Omit<AttachmentInfo, 'size'> | null {
  const contentType = node.contentType || (node.root ? 'text/plain' : '');
  if (/^multipart\//i.test(contentType)) return null;
  // An embedded message that mailsplit opens up: its parts follow as nodes of their own.
  if (contentType === 'message/rfc822' && node.messageNode) return null;

  let disposition = node.disposition || '';
  if (disposition && disposition !== 'attachment' && disposition !== 'inline') disposition = 'attachment';
  if (!disposition) disposition = TEXT_TYPES.includes(contentType) ? 'inline' : 'attachment';
  const isAttachment = !TEXT_TYPES.includes(contentType) || disposition !== 'inline';
  if (!isAttachment) return null;

  const filename = node.filename || null;
  let type = contentType || 'application/octet-stream';
  if (contentType === 'application/octet-stream' && filename) type = libmime.detectMimeType(filename) || 'application/octet-stream';
  const related = hasHeader(node, 'content-id') && hasAncestor(node, 'multipart/related');
  return {
    filename,
    contentType: type,
    // The sender's own disposition, before the normalisation above, as mailparser reports it.
    inline: isInlinePart({ contentDisposition: node.disposition || undefined, related }),
  };
}

/** mailparser's Subject: the first one, decoded by libmime, 8-bit bytes read as UTF-8. */
function subjectOf(node: MimeNode): string | null {
  const headers = node.headers;
  if (!headers) return null;
  const line = headers.getList().find((l) => l.key === 'subject');
  if (!line) return null;
  let value = ((libmime.decodeHeader(line.line) || {}).value || '').toString().trim();
  value = Buffer.from(value, 'binary').toString();
  try {
    value = libmime.decodeWords(value);
  } catch {
    // As mailparser: an undecodable subject is kept as written.
  }
  return value;
}

function hasHeader(node: MimeNode, key: string): boolean {
  return Boolean(node.headers && node.headers.getList().some((l) => l.key === key));
}

function hasAncestor(node: MimeNode, contentType: string): boolean {
  for (let p = node.parentNode; p; p = p.parentNode) {
    if (p.contentType === contentType) return true;
  }
  return false;
}

function countBytes(stream: NodeJS.ReadableStream, add: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer | string) => add(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length));
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}

function* slices(raw: Buffer): Generator<Buffer> {
  for (let i = 0; i < raw.length; i += SLICE_BYTES) yield raw.subarray(i, i + SLICE_BYTES);
}
