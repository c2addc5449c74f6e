/**
 * Whether a JSON text names a key twice in one object. JSON.parse keeps the last of duplicate
 * keys; other servers' parsers keep the first or refuse, so a body such as
 * `{"query": "<harmless>", "query": "<unlisted>"}` could be judged on one and executed as the other.
 * A checker that must see what the server sees refuses such bodies instead of guessing.
 */

/** `text` must be valid JSON (JSON.parse accepted it); keys compare after unescaping (`"\u0071uery"`). */
export function hasDuplicateKeys(text: string): boolean {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const keys = open.at(-1)!;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (ch === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (ch === '[') {
      open.push(null);
      expectKey = false;
    } else if (ch === '}' || ch === ']') {
      open.pop();
      expectKey = false;
    } else if (ch === ',') expectKey = open.at(-1) instanceof Set;
    i++;
  }
  return false;
}
