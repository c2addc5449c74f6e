/**
 * Masked secrets: the container gets a surrogate of the same shape as the real value (same
 * length, same kind of character at every position, the same known prefix such as `ghp_`), so
 * tools that check a token's format accept it. The proxy swaps the real value in only in the named
 * headers of requests to in-scope hosts (src/proxy/credential-headers.ts); anywhere else the
 * surrogate goes out unchanged and is worth nothing.
 *
 * Surrogates are random and new for every task, as in Airut: a surrogate the agent wrote into a
 * file, a commit or a reply is worthless once its task has ended, and nothing links the
 * surrogates of two tasks. (The agent reads the current one from its environment.)
 */
import { randomInt } from 'node:crypto';
import type { MaskedSecret } from '../config/types.ts';

/** Prefixes kept as they are, so format checks in tools still pass. Longest first. */
const KNOWN_PREFIXES = [
  'github_pat_',
  'sk-ant-api03-',
  'sk-ant-',
  'glpat-',
  'xoxb-',
  'xoxp-',
  'ghp_',
  'gho_',
  'ghu_',
  'ghs_',
  'ghr_',
  'sk-',
  'AKIA',
  'ASIA',
];

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ALPHANUMERIC = LOWER + UPPER + DIGITS;

/**
 * A fresh random surrogate for `value`: the same length, prefix and character class at every
 * position, never equal to the value itself.
 */
export function surrogateFor(value: string): string {
  const prefix = KNOWN_PREFIXES.find((p) => value.startsWith(p) && value.length > p.length) ?? '';
  for (let attempt = 0; ; attempt++) {
    let out = prefix;
    for (const ch of value.slice(prefix.length)) {
      const alphabet = LOWER.includes(ch) ? LOWER : UPPER.includes(ch) ? UPPER : DIGITS.includes(ch) ? DIGITS : null;
      out += alphabet ? alphabet[randomInt(alphabet.length)] : ch;
    }
    // A value with no letters or digits past its prefix cannot be disguised; the proxy still
    // never sends it anywhere it should not go, because such a value is also never replaced.
    if (out !== value || attempt > 3) return out;
  }
}

/** `prefix` followed by `length` random letters and digits (a GitHub App surrogate: `ghs_` + 36). */
export function randomToken(prefix: string, length: number): string {
  let out = prefix;
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return out;
}

/** One credential the proxy swaps in behind a surrogate: a masked secret or a GitHub App credential. */
export interface MaskRule {
  readonly name: string;
  readonly surrogate: string;
  /** Lower-case host patterns. */
  readonly scopes: readonly string[];
  /** Lower-case header names or glob patterns (`*`, `x-*`). */
  readonly headers: readonly string[];
  /** Let values that are not the surrogate through in these headers (else they are stripped). */
  readonly allowForeign: boolean;
  /** The real value: fixed for a masked secret, minted on demand for a GitHub App credential. */
  readonly realValue: () => string | Promise<string>;
}

export function buildMaskRules(secrets: Readonly<Record<string, MaskedSecret>>): MaskRule[] {
  // An empty value is not injected (Airut): there is nothing to mask.
  return Object.entries(secrets)
    .filter(([, s]) => s.value !== '')
    .map(([name, s]) => ({
      name,
      surrogate: surrogateFor(s.value),
      scopes: s.scopes.map((x) => x.toLowerCase()),
      headers: s.headers.map((h) => h.toLowerCase()),
      allowForeign: s.allowForeignCredentials,
      realValue: () => s.value,
    }));
}

/** The surrogates by name, for the container's environment. */
export function surrogatePool(rules: readonly MaskRule[]): Record<string, string> {
  return Object.fromEntries(rules.map((r) => [r.name, r.surrogate]));
}
