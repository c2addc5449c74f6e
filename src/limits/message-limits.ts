/**
 * Size and attachment limits of one mail: a pure check over what the listener already knows
 * (the size the IMAP server reported and the attachment list of the parsed mail).
 */
import type { MailLimits } from '../config/types.ts';
import { MIME_LIMITS } from '../email/mime-limits.ts';

/** The attachment facts the check needs (a subset of `AttachmentInfo` from src/email/parse.ts). */
export interface AttachmentFacts {
  readonly filename: string | null;
  readonly size: number;
  readonly inline: boolean;
}

export interface MessageFacts {
  /** Bytes as the IMAP server counts them (RFC822.SIZE), or the raw length when larger. */
  readonly size: number;
  /** Only the header section was read, because the mail was over `maxMessageBytes`. */
  readonly headersOnly: boolean;
  readonly attachments: readonly AttachmentFacts[];
  /** The MIME reader's own bound that the mail broke (see src/email/mime-limits.ts). */
  readonly structureLimit?: 'parts' | 'header' | null;
}

/** Which limit a mail broke, with its figure and the allowed one. Structured-cloneable. */
export type LimitViolation =
  | { readonly limit: 'max_message_bytes'; readonly actual: number; readonly allowed: number }
  | { readonly limit: 'max_attachments'; readonly actual: number; readonly allowed: number }
  /** The MIME reader's bounds: more parts than it reads, or a part whose header section is larger. */
  | { readonly limit: 'mime_parts'; readonly allowed: number }
  | { readonly limit: 'mime_header_bytes'; readonly allowed: number }
  | {
      readonly limit: 'max_attachment_bytes';
      readonly actual: number;
      readonly allowed: number;
      /** As the sender named it (unsanitized); null when it had no name. */
      readonly filename: string | null;
    };

/**
 * What the sender attached, as opposed to parts their client embeds by itself (a signature logo,
 * an image pasted into HTML): those come inline and without a file name. Only these are saved to
 * `inbox/` and counted against `max_attachments`.
 */
export function isSentAttachment(a: Pick<AttachmentFacts, 'filename' | 'inline'>): boolean {
  return !(a.inline && !a.filename);
}

/** The limits one mail is checked against as it arrives (the rates are the supervisor's). */
export type MessageSizeLimits = Pick<MailLimits, 'maxMessageBytes' | 'maxAttachmentBytes' | 'maxAttachments'>;

/** The first limit the mail breaks (size, structure, count, then the largest attachment), or null. */
export function checkMessageLimits(facts: MessageFacts, limits: MessageSizeLimits): LimitViolation | null {
  const maxBytes = limits.maxMessageBytes;
  if (facts.headersOnly || (maxBytes !== null && facts.size > maxBytes)) {
    // headersOnly is only ever set for a mail over the limit; `?? size` keeps the type honest.
    return { limit: 'max_message_bytes', actual: facts.size, allowed: maxBytes ?? facts.size };
  }
  // A mail the reader gave up on has no attachment list to check; it cannot be run either.
  if (facts.structureLimit === 'parts') return { limit: 'mime_parts', allowed: MIME_LIMITS.maxChildNodes };
  if (facts.structureLimit === 'header') return { limit: 'mime_header_bytes', allowed: MIME_LIMITS.maxHeadSize };
  const sent = facts.attachments.filter(isSentAttachment);
  if (limits.maxAttachments !== null && sent.length > limits.maxAttachments) {
    return { limit: 'max_attachments', actual: sent.length, allowed: limits.maxAttachments };
  }
  if (limits.maxAttachmentBytes !== null) {
    let largest: AttachmentFacts | null = null;
    for (const a of sent) if (largest === null || a.size > largest.size) largest = a;
    if (largest !== null && largest.size > limits.maxAttachmentBytes) {
      return { limit: 'max_attachment_bytes', actual: largest.size, allowed: limits.maxAttachmentBytes, filename: largest.filename };
    }
  }
  return null;
}
