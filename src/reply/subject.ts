/**
 * Subjects of the mail we send: `Re: [ID:xxxxxxxx] <original subject>`. The original subject is
 * text a stranger typed, so it is cleaned before it becomes a header: no line breaks (which would
 * start a header of the sender's choosing), no control characters, bounded length.
 */

/** Longest original-subject part kept, in characters (code points). */
export const MAX_SUBJECT_CHARS = 200;

const NO_SUBJECT = '(no subject)';

// Reply/forward prefixes as mail clients write them in several languages (Re, Fwd, Fw, AW, SV,
// WG, TR, RE[2]), and our own conversation tag. They are stripped repeatedly from the front: sticky
// (`y`) expressions tried where the last prefix ended, so a stack of prefixes is walked once
// instead of the rest of the subject being copied for each one.
const REPLY_PREFIX = /(?:re|fwd?|aw|sv|wg|tr|antw|vs)\s*(?:(?:\[\d+\]|\(\d+\))\s*)?[:：]\s*/iy;
const ID_TAG_PREFIX = /\[ID:[0-9a-fA-F]{8}\]\s*/y;
const BLANKS = /\s*/y;

/** Where `sticky` stops when tried at `at` (or `at` when it does not match there). */
function skip(sticky: RegExp, s: string, at: number): number {
  sticky.lastIndex = at;
  return sticky.test(s) ? sticky.lastIndex : at;
}

/** Removes line breaks and control characters; collapses runs of whitespace. */
export function cleanHeaderText(value: string): string {
  return (
    value
      // C0 and C1 controls, DEL, and the Unicode line/paragraph separators all become spaces.
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** The original subject without our tag and without any stack of Re:/Fwd: prefixes. */
export function baseSubject(originalSubject: string): string {
  const cleaned = cleanHeaderText(originalSubject);
  let at = 0;
  for (;;) {
    const next = skip(BLANKS, cleaned, skip(ID_TAG_PREFIX, cleaned, skip(REPLY_PREFIX, cleaned, at)));
    if (next === at) break;
    at = next;
  }
  let s = cleaned.slice(at);
  const chars = Array.from(s);
  if (chars.length > MAX_SUBJECT_CHARS) s = `${chars.slice(0, MAX_SUBJECT_CHARS - 1).join('').trimEnd()}…`;
  return s;
}

/** `Re: [ID:xxxxxxxx] <subject>`. */
export function replySubject(conversationId: string, originalSubject: string): string {
  const base = baseSubject(originalSubject);
  return `Re: [ID:${conversationId}] ${base.length > 0 ? base : NO_SUBJECT}`;
}
