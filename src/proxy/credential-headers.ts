/**
 * Swapping credentials into a request's headers, and stripping foreign ones (Airut's semantics,
 * spec/masked-secrets.md "Proxy Replacement"). For each credential whose scopes match the host:
 *
 *   replace  every value of a header the credential names is searched for its surrogate (as is,
 *            as in `Bearer <s>` / `token <s>`, or as the password of HTTP Basic, what git sends);
 *            the first hit gets the real value swapped in, and the header collapses to that one
 *            value, so duplicates a client added cannot ride along.
 *   strip    a header named exactly (no glob) by an in-scope credential that does not set
 *            allow_foreign_credentials, and in which no surrogate was found, is removed: an agent
 *            cannot send a token of its own (or an attacker's) to a host the operator scoped a
 *            credential to. Glob patterns (`*`, `X-*`) mean "look for the surrogate anywhere",
 *            not "every such header is a credential", so they never strip.
 *
 * A header some credential replaced is never stripped by another. Real values may be minted on
 * demand (GitHub App tokens), hence async; a failed mint rejects with the minter's error.
 */
import { hostMatches } from './allowlist.ts';
import type { MaskRule } from './masked-secrets.ts';

export type HeaderValues = Record<string, string | string[] | undefined>;

export interface CredentialOutcome {
  /** Headers a real value was swapped into. */
  readonly masked: number;
  /** Lower-case names of the headers removed as foreign credentials. */
  readonly stripped: readonly string[];
}

const GLOB = /[*?[]/;

function headerNamed(pattern: string, name: string): boolean {
  return GLOB.test(pattern) ? hostMatches(pattern, name) : pattern === name;
}

/** Modifies `headers` (lower-case keys, as Node gives them) in place. */
export async function applyCredentials(rules: readonly MaskRule[], host: string, headers: HeaderValues): Promise<CredentialOutcome> {
  const inScope = rules.filter((r) => r.scopes.some((s) => hostMatches(s, host)));
  const replaced = new Set<string>();
  for (const rule of inScope) {
    for (const name of Object.keys(headers)) {
      if (replaced.has(name) || !rule.headers.some((p) => headerNamed(p, name))) continue;
      const current = headers[name];
      if (current === undefined) continue;
      const values = Array.isArray(current) ? current : [current];
      const hit = values.find((v) => containsSurrogate(v, rule.surrogate));
      if (hit === undefined) continue;
      headers[name] = swapIn(hit, rule.surrogate, await rule.realValue());
      replaced.add(name);
    }
  }
  const stripped: string[] = [];
  for (const name of Object.keys(headers)) {
    if (replaced.has(name) || headers[name] === undefined) continue;
    if (inScope.some((r) => !r.allowForeign && r.headers.includes(name) && !GLOB.test(name))) {
      delete headers[name];
      stripped.push(name);
    }
  }
  return { masked: replaced.size, stripped };
}

/** The Basic credentials' decoded `user:password`, or null when the value is not Basic. */
function basicPayload(headerValue: string): { scheme: string; decoded: string } | null {
  const basic = /^(\s*basic\s+)([A-Za-z0-9+/=]+)\s*$/i.exec(headerValue);
  return basic ? { scheme: basic[1]!, decoded: Buffer.from(basic[2]!, 'base64').toString('utf8') } : null;
}

function containsSurrogate(headerValue: string, surrogate: string): boolean {
  if (headerValue.includes(surrogate)) return true;
  return basicPayload(headerValue)?.decoded.includes(surrogate) ?? false;
}

function swapIn(headerValue: string, surrogate: string, real: string): string {
  if (headerValue.includes(surrogate)) return headerValue.split(surrogate).join(real);
  const basic = basicPayload(headerValue)!;
  return basic.scheme + Buffer.from(basic.decoded.split(surrogate).join(real), 'utf8').toString('base64');
}

/** The network log's note for stripped headers, without their values (Airut's STRIPPED line). */
export function strippedNote(stripped: readonly string[]): string {
  return stripped.map((h) => `STRIPPED header '${h}' (foreign credential blocked)`).join('; ');
}
