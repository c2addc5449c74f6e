/**
 * Masked secrets: the container gets a surrogate of the same shape as the real value (same
 * length, same kind of character at every position, the same known prefix such as `ghp_`), so
 * tools that check a token's format accept it. The proxy swaps the real value in only in the named
 * headers of requests to in-scope hosts; anywhere else the surrogate goes out unchanged and is
 * worth nothing.
 *
 * Surrogates are derived with HMAC from a key the daemon keeps, the conversation id and the
 * secret's name: stable for the life of a conversation (a token the agent wrote into a config
 * file in its workspace keeps working in the next task), different between conversations, and
 * impossible to turn back into the real value.
 */
import { createHmac } from 'node:crypto';
import type { MaskedSecret } from '../config/types.ts';
import { hostMatches } from './allowlist.ts';

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

/**
 * A surrogate for `value`: deterministic for (key, conversation, name), the same length and
 * character classes, never equal to the value itself.
 */
export function surrogateFor(value: string, key: Buffer, conversationId: string, name: string): string {
  const prefix = KNOWN_PREFIXES.find((p) => value.startsWith(p) && value.length > p.length) ?? '';
  for (let attempt = 0; ; attempt++) {
    let stream = Buffer.alloc(0);
    let counter = 0;
    const next = (): number => {
      if (stream.length === 0) {
        stream = createHmac('sha256', key).update(`${conversationId}\0${name}\0${attempt}\0${counter++}`).digest();
      }
      const b = stream[0]!;
      stream = stream.subarray(1);
      return b;
    };
    let out = prefix;
    for (const ch of value.slice(prefix.length)) {
      const alphabet = LOWER.includes(ch) ? LOWER : UPPER.includes(ch) ? UPPER : DIGITS.includes(ch) ? DIGITS : null;
      out += alphabet ? alphabet[next() % alphabet.length] : ch;
    }
    // A value with no letters or digits past its prefix cannot be disguised; the proxy still
    // never sends it anywhere it should not go, because such a value is also never replaced.
    if (out !== value || attempt > 3) return out;
  }
}

export interface MaskRule {
  readonly name: string;
  readonly surrogate: string;
  readonly value: string;
  readonly scopes: readonly string[];
  /** Lower-case header names. */
  readonly headers: readonly string[];
}

export function buildMaskRules(
  secrets: Readonly<Record<string, MaskedSecret>>,
  key: Buffer,
  conversationId: string,
): MaskRule[] {
  return Object.entries(secrets).map(([name, s]) => ({
    name,
    surrogate: surrogateFor(s.value, key, conversationId, name),
    value: s.value,
    scopes: s.scopes.map((x) => x.toLowerCase()),
    headers: s.headers.map((h) => h.toLowerCase()),
  }));
}

/** The surrogates by name, for the container's environment. */
export function surrogatePool(rules: readonly MaskRule[]): Record<string, string> {
  return Object.fromEntries(rules.map((r) => [r.name, r.surrogate]));
}

/**
 * Replaces surrogates with real values in the named headers when `host` is in the secret's scope.
 * Handles the value appearing as is (`Bearer <token>`, `X-Api-Key: <token>`) and inside HTTP Basic
 * credentials (`Basic base64(user:<token>)`, what git sends). Returns how many headers changed;
 * `headers` is modified in place.
 */
export function applyMasks(
  rules: readonly MaskRule[],
  host: string,
  headers: Record<string, string | string[] | undefined>,
): number {
  let replaced = 0;
  for (const rule of rules) {
    if (!rule.scopes.some((s) => hostMatches(s, host))) continue;
    for (const name of rule.headers) {
      const current = headers[name];
      if (current === undefined) continue;
      const values = Array.isArray(current) ? current : [current];
      let changed = false;
      const next = values.map((v) => {
        const swapped = swapIn(v, rule);
        if (swapped !== v) changed = true;
        return swapped;
      });
      if (changed) {
        headers[name] = Array.isArray(current) ? next : next[0];
        replaced++;
      }
    }
  }
  return replaced;
}

function swapIn(headerValue: string, rule: MaskRule): string {
  if (rule.surrogate === rule.value) return headerValue;
  if (headerValue.includes(rule.surrogate)) return headerValue.split(rule.surrogate).join(rule.value);
  const basic = /^(\s*basic\s+)([A-Za-z0-9+/=]+)\s*$/i.exec(headerValue);
  if (basic) {
    const decoded = Buffer.from(basic[2]!, 'base64').toString('utf8');
    if (decoded.includes(rule.surrogate)) {
      return basic[1] + Buffer.from(decoded.split(rule.surrogate).join(rule.value), 'utf8').toString('base64');
    }
  }
  return headerValue;
}
