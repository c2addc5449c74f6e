/**
 * Which conversation a message continues. Our replies carry the conversation id in their
 * Message-ID (`<airut.{id}.{unixTs}.{nonce}@{domain}>`) and in the subject (`[ID:xxxxxxxx]`), so a
 * reply points back to it however the client threads. Whether the id exists is the caller's
 * question (per repo); an unknown id starts a new conversation.
 */

export type ConversationIdSource = 'in-reply-to' | 'references' | 'subject';

export interface ConversationIdCandidate {
  /** 8 lowercase hex characters. */
  readonly conversationId: string;
  readonly source: ConversationIdSource;
}

export interface ThreadingFields {
  readonly inReplyTo: string | null;
  readonly references: readonly string[];
  readonly subject: string;
}

const OUR_MESSAGE_ID = /^<?airut\.([0-9a-f]{8})\.\d+\.[^@<>\s]+@[^@<>\s]+>?$/;
const SUBJECT_TAG = /\[ID:([0-9a-fA-F]{8})\]/;

/** The conversation id inside one of our Message-IDs, or null for anyone else's. */
export function conversationIdFromMessageId(messageId: string): string | null {
  return OUR_MESSAGE_ID.exec(messageId.trim())?.[1] ?? null;
}

/** The id in a `[ID:xxxxxxxx]` subject tag (lowercased), or null. */
export function extractSubjectTag(subject: string): string | null {
  return SUBJECT_TAG.exec(subject)?.[1]?.toLowerCase() ?? null;
}

/**
 * All msg-ids in a Message-ID / In-Reply-To / References value, in order, with angle brackets.
 * A value without brackets is taken as whitespace-separated ids (some clients drop them).
 */
export function extractMessageIds(value: string): string[] {
  const bracketed = value.match(/<[^<>\s]+>/g);
  if (bracketed) return bracketed;
  return value
    .split(/[\s,]+/)
    .filter((w) => /^[^<>\s()"]+@[^<>\s()"]+$/.test(w))
    .map((w) => `<${w}>`);
}

/** Candidates in the order to try them: In-Reply-To, References newest first, subject tag. */
export function conversationIdCandidates(msg: ThreadingFields): ConversationIdCandidate[] {
  const out: ConversationIdCandidate[] = [];
  const seen = new Set<string>();
  const add = (conversationId: string | null, source: ConversationIdSource): void => {
    if (conversationId === null || seen.has(conversationId)) return;
    seen.add(conversationId);
    out.push({ conversationId, source });
  };
  if (msg.inReplyTo !== null) add(conversationIdFromMessageId(msg.inReplyTo), 'in-reply-to');
  for (let i = msg.references.length - 1; i >= 0; i--) {
    add(conversationIdFromMessageId(msg.references[i] as string), 'references');
  }
  add(extractSubjectTag(msg.subject), 'subject');
  return out;
}

const REPLY_PREFIX = /^\s*(?:re|fwd?|aw|sv|wg|vs|antw|odp)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*/i;
const ANY_TAG = /\s*\[ID:[0-9a-fA-F]{8}\]\s*/g;

/** `Re: AW: [ID:1a2b3c4d] Fix the build` → `Fix the build` (for the prompt of a new conversation). */
export function stripReplyPrefixes(subject: string): string {
  let s = subject.replace(ANY_TAG, ' ');
  for (;;) {
    const stripped = s.replace(REPLY_PREFIX, '');
    if (stripped === s) break;
    s = stripped;
  }
  return s.replace(/\s+/g, ' ').trim();
}
