/**
 * Which text of a run becomes the reply, chosen as Airut chooses it (`extract_response_text`):
 *
 * - several `result` events (one per turn): their texts, joined;
 * - else the last assistant text; but when one of the last few texts before it (the window holds
 *   REPLY_WINDOW texts, the last included) is at least REPLY_RATIO times longer, the reply starts at
 *   the latest such text and runs to the end. The model often writes the real answer next to a tool
 *   call and closes with a one-line coda ("Done, the file is attached."); the coda alone would reach
 *   the user otherwise;
 * - else the result's text; else a fixed line saying there was no output.
 *
 * Pure. Follow-ups taken live into the run get their own reply layout (runner/live-follow-ups.ts),
 * which names each follow-up before its turn's answer.
 */

export const REPLY_WINDOW = 5;
export const REPLY_RATIO = 4;
export const NO_OUTPUT_TEXT = 'No output received from Claude.';

export interface ReplySources {
  /** The run's assistant texts, oldest first; only the last REPLY_WINDOW matter. */
  readonly assistantTexts: readonly string[];
  /** The text of every `result` event, in order. */
  readonly resultTexts: readonly string[];
}

export function selectReplyText(s: ReplySources): string {
  const results = s.resultTexts.filter((t) => t !== '');
  if (s.resultTexts.length > 1 && results.length) return results.join('\n\n');
  const texts = s.assistantTexts.filter((t) => t !== '');
  if (texts.length) return fromSubstantiveText(texts);
  return results.at(-1) ?? NO_OUTPUT_TEXT;
}

/** The last text, or everything from the latest much longer text in the window to the end. */
function fromSubstantiveText(texts: readonly string[]): string {
  const last = texts.length - 1;
  const threshold = REPLY_RATIO * texts[last]!.length;
  let anchor = last;
  for (let i = Math.max(0, last - (REPLY_WINDOW - 1)); i < last; i++) {
    if (texts[i]!.length >= threshold) anchor = i;
  }
  return texts.slice(anchor).join('\n\n');
}
