/**
 * "Did you mean …?" for unknown keys. A typo such as `authorised_senders` or `imap_prot` is the
 * most common configuration mistake, and naming the intended key saves a trip to the docs.
 */

/** Levenshtein distance, case-insensitive (a key typed as `Poll_Interval` is still a near miss). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[t.length] ?? 0;
}

/**
 * The known key closest to `key`, if it is close enough to be a plausible typo: at most 2 edits,
 * or a third of the key's length for long keys. Farther matches would be guesses, not help.
 */
export function closestKey(key: string, known: readonly string[]): string | null {
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : null;
}
