/** Which repository a problem's dotted path (src/config/object-path.ts) lies in. */

/** `repos.api…` → api; `repos["my.repo"]…` → my.repo; anything else (including `repos` itself) → undefined. */
export function repoIdOfPath(p: string): string | undefined {
  const plain = /^repos\.([A-Za-z0-9_-]+)(?=$|[.[])/.exec(p);
  if (plain) return plain[1];
  const quoted = /^repos\[("(?:[^"\\]|\\.)*")\]/.exec(p);
  if (quoted) return JSON.parse(quoted[1]!) as string;
  return undefined;
}
