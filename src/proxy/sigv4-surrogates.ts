/**
 * Surrogates for `signing_credentials` (AWS SigV4): the container gets an access key id, a secret
 * access key and, when configured, a session token of the same shape as real ones, so SDKs and
 * curl accept them and sign with them. The signature they make is worth nothing; the proxy
 * recognises this task's surrogate key id in a request to a scoped host and signs the request
 * again with the real keys (src/proxy/sigv4-resign.ts).
 *
 * Like masked secrets, surrogates come from HMAC of the daemon's surrogate key, the conversation id
 * and the credential's label: stable for a conversation (a profile the agent wrote keeps working),
 * different between conversations, and no way back to the real values.
 */
import { createHmac } from 'node:crypto';
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

/** `length` characters of `alphabet`, derived from (key, conversation, label, part). */
function derived(key: Buffer, conversationId: string, label: string, part: string, length: number, alphabet: string): string {
  let out = '';
  for (let counter = 0; out.length < length; counter++) {
    const block = createHmac('sha256', key).update(`sigv4\0${conversationId}\0${label}\0${part}\0${counter}`).digest();
    for (const b of block) {
      if (out.length === length) break;
      out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

/** AKIA (long-term) or ASIA (STS) stays, so tools that read the prefix see the same kind of key. */
function keyIdSurrogate(real: string, key: Buffer, conversationId: string, label: string): string {
  const prefix = /^(AKIA|ASIA)/.exec(real)?.[1] ?? 'AKIA';
  const length = Math.max(real.length, 20);
  return prefix + derived(key, conversationId, label, 'access_key_id', length - prefix.length, KEY_ID_CHARS);
}

export function buildSigningRules(
  credentials: Readonly<Record<string, SigningCredential>>,
  key: Buffer,
  conversationId: string,
): SigningRule[] {
  return Object.entries(credentials).map(([label, c]) => ({
    label,
    accessKeyId: { ...c.accessKeyId, surrogate: keyIdSurrogate(c.accessKeyId.value, key, conversationId, label) },
    secretAccessKey: {
      ...c.secretAccessKey,
      surrogate: derived(key, conversationId, label, 'secret_access_key', Math.max(c.secretAccessKey.value.length, 40), BASE64_CHARS),
    },
    sessionToken: c.sessionToken && {
      ...c.sessionToken,
      surrogate: derived(key, conversationId, label, 'session_token', SESSION_TOKEN_SURROGATE_LENGTH, BASE64_CHARS),
    },
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
