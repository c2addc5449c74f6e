/**
 * URI pieces of SigV4 canonical requests: the query as the signer wants it (decoded names and
 * values, which it encodes again the AWS way) and S3's canonical path (each segment decoded, then
 * encoded once; no `.`/`..` folding, as S3 does not normalise paths).
 */

export type QueryMap = Record<string, string | string[]>;

/** RFC 3986 encoding as AWS uses it: only A-Z a-z 0-9 - _ . ~ are left as they are. */
export function awsEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`the URL has a malformed percent-encoding: ${part.slice(0, 100)}`);
  }
}

/** `a=1&b&a=2` → {a: ['1','2'], b: ''}. A `+` stays a `+` (AWS clients encode spaces as %20). */
export function parseQuery(raw: string): QueryMap {
  const out: QueryMap = Object.create(null) as QueryMap;
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

export function serializeQuery(query: Readonly<Record<string, string | string[] | null | undefined>>): string {
  const parts: string[] = [];
  for (const [name, v] of Object.entries(query)) {
    if (v === null || v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) parts.push(`${awsEncode(name)}=${awsEncode(value)}`);
  }
  return parts.join('&');
}

/** S3's canonical URI for a path as sent on the wire. */
export function awsPathForS3(path: string): string {
  if (!path) return '/';
  return path
    .split('/')
    .map((segment) => awsEncode(decode(segment)))
    .join('/');
}
