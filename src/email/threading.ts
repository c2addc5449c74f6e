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
    .filter(isBareMessageId)
    .map((w) => `<${w}>`);
}

const NOT_IN_BARE_ID = /[<>\s()"]/;

/**
 * `left@right`, both sides non-empty, none of `<>()"` or whitespace (an `@` may repeat). Tested in
 * two linear steps: as one expression, `^[^…]+@[^…]+$` retries from every `@` of a long word.
 */
function isBareMessageId(word: string): boolean {
  return word.length >= 3 && !NOT_IN_BARE_ID.test(word) && word.slice(1, -1).includes('@');
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

// Sticky (`y`): tried only where the previous prefix ended. No two quantifiers here can take the
// same blanks (the counter, when present, sits between them), so a long run of blanks is scanned
// once, and the prefixes are consumed by moving an index rather than by copying the rest each time.
const REPLY_PREFIX = /\s*(?:re|fwd?|aw|sv|wg|vs|antw|odp)\s*(?:(?:\[\d+\]|\(\d+\))\s*)?:\s*/iy;
const ANY_TAG = /\[ID:[0-9a-fA-F]{8}\]/g;

/** `Re: AW: [ID:1a2b3c4d] Fix the build` → `Fix the build` (for the prompt of a new conversation). */
export function stripReplyPrefixes(subject: string): string {
  // Whitespace around a tag is collapsed below, so the tag alone is replaced.
  const s = subject.replace(ANY_TAG, ' ');
  let at = 0;
  for (;;) {
    REPLY_PREFIX.lastIndex = at;
    if (!REPLY_PREFIX.test(s) || REPLY_PREFIX.lastIndex === at) break;
    at = REPLY_PREFIX.lastIndex;
  }
  return s.slice(at).replace(/\s+/g, ' ').trim();
}
