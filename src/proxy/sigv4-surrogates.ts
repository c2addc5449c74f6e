/**
 * Surrogates for `signing_credentials` (AWS SigV4): the container gets an access key id, a secret
 * access key and, when configured, a session token of the same shape as real ones, so SDKs and
 * curl accept them and sign with them. The signature they make is worth nothing; the proxy
 * recognises this task's surrogate key id in a request to a scoped host and signs the request
 * again with the real keys (src/proxy/sigv4-resign.ts).
 *
 * Like masked secrets, surrogates are random and new for every task (Airut regenerates them per
 * task): one a task leaked is worth nothing to the next, and there is no way back to the real values.
 */
import { randomInt } from 'node:crypto';
import type { SigningCredential } from '../config/types.ts';

export interface SigningPart {
  /** The container's environment variable. */
  readonly name: string;
  readonly value: string;
  readonly surrogate: string;
}

export interface SigningRule {
  /** The credential's key under `signing_credentials`. */
  readonly label: string;
  readonly accessKeyId: SigningPart;
  readonly secretAccessKey: SigningPart;
  readonly sessionToken: SigningPart | null;
  /** Lower-case host patterns (allowlist syntax). */
  readonly scopes: readonly string[];
}

const KEY_ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Fixed, whatever the real token's length, so the surrogate says nothing about it (Airut's choice). */
export const SESSION_TOKEN_SURROGATE_LENGTH = 512;

/** `length` random characters of `alphabet`. */
function random(length: number, alphabet: string): string {
  let out = '';
  while (out.length < length) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** AKIA (long-term) or ASIA (STS) stays, so tools that read the prefix see the same kind of key. */
function keyIdSurrogate(real: string): string {
  const prefix = /^(AKIA|ASIA)/.exec(real)?.[1] ?? 'AKIA';
  return prefix + random(Math.max(real.length, 20) - prefix.length, KEY_ID_CHARS);
}

/** This task's surrogates for every signing credential. */
export function buildSigningRules(credentials: Readonly<Record<string, SigningCredential>>): SigningRule[] {
  return Object.entries(credentials).map(([label, c]) => ({
    label,
    accessKeyId: { ...c.accessKeyId, surrogate: keyIdSurrogate(c.accessKeyId.value) },
    secretAccessKey: { ...c.secretAccessKey, surrogate: random(Math.max(c.secretAccessKey.value.length, 40), BASE64_CHARS) },
    sessionToken: c.sessionToken && { ...c.sessionToken, surrogate: random(SESSION_TOKEN_SURROGATE_LENGTH, BASE64_CHARS) },
    scopes: c.scopes.map((s) => s.toLowerCase()),
  }));
}

/** Variable name → surrogate, for the container's environment. */
export function signingSurrogateEnv(rules: readonly SigningRule[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const r of rules) {
    for (const part of [r.accessKeyId, r.secretAccessKey, r.sessionToken]) if (part) env[part.name] = part.surrogate;
  }
  return env;
}
