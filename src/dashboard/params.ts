/** Numbers read from a path, query or header: malformed input is `undefined`, never NaN or a float. */

/** Positive integer from a query/path parameter, or undefined. */
export function parseId(v: string | undefined): number | undefined {
  if (v === undefined || !/^[1-9]\d{0,15}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A cursor: absent or empty is 0; otherwise a non-negative integer, or undefined when malformed. */
export function parseCursor(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return 0;
  if (!/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}
