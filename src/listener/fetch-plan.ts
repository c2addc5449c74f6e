/**
 * How a batch of waiting messages is downloaded, decided from their sizes (RFC822.SIZE) before any
 * body is fetched: a message over `max_message_bytes` is fetched as its header section only, and
 * the others in groups of bounded total size, so memory stays bounded by the limits rather than by
 * whatever was mailed.
 */

export type FetchStep =
  /** Download these messages whole, in one round trip. */
  | { readonly kind: 'whole'; readonly uids: readonly number[] }
  /** Download only the start of this message, enough for its header section. */
  | { readonly kind: 'headers'; readonly uid: number; readonly size: number };

/**
 * Steps in UID order. `sizes` lacks a UID when the server did not report it: that message is
 * fetched whole and checked after download. A group never exceeds `maxGroupBytes` unless a single
 * message does.
 */
export function planFetches(
  uids: readonly number[],
  sizes: ReadonlyMap<number, number>,
  maxMessageBytes: number | null,
  maxGroupBytes: number,
): FetchStep[] {
  const steps: FetchStep[] = [];
  let group: number[] = [];
  let groupBytes = 0;
  const flush = (): void => {
    if (group.length) steps.push({ kind: 'whole', uids: group });
    group = [];
    groupBytes = 0;
  };
  for (const uid of uids) {
    const size = sizes.get(uid);
    if (size !== undefined && maxMessageBytes !== null && size > maxMessageBytes) {
      flush();
      steps.push({ kind: 'headers', uid, size });
      continue;
    }
    const bytes = size ?? 0;
    if (group.length && groupBytes + bytes > maxGroupBytes) flush();
    group.push(uid);
    groupBytes += bytes;
  }
  flush();
  return steps;
}
