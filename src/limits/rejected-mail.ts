/**
 * What is kept of rejected mail. Nobody on the internet should be able to fill the disk by sending
 * mail the daemon refuses, so a refused mail keeps at most its header section (the body is never
 * used: a rejected mail is never run), all rejected mail together stores at most a daily budget of
 * bytes, and one source's rejected mail beyond a rate is only counted. Rules only; the counting is
 * in src/store/rejected-mail.ts and src/store/rate-limit.ts.
 */
import { headerSectionOf } from '../email/headers.ts';
import type { RejectedMailPolicy } from '../config/types.ts';
import type { RejectReason } from './reject-reason.ts';

/** Most bytes of a rejected mail's header section that are kept (a longer one is cut at a line end). */
export const MAX_REJECTED_HEADER_BYTES = 64 * 1024;


export type { RejectedMailPolicy };

/**
 * Refusals by the screen: mail from someone who is not (or cannot be shown to be) an authorized
 * sender, or a loop. These are never answered and count towards the per-source limit; `too_large`
 * and `rate_limited` come from authenticated, authorized senders and keep their own rules.
 */
const SCREENED_OUT: ReadonlySet<RejectReason> = new Set(['auth_failed', 'unauthorized', 'loop', 'malformed']);

export function isScreenedOut(reason: RejectReason): boolean {
  return SCREENED_OUT.has(reason);
}

/**
 * The header section of a message (without the empty line that ends it), at most `maxBytes` long;
 * a longer one is cut after its last complete line within the bound, so what is kept still parses.
 */
export function boundedHeaderSection(raw: Uint8Array, maxBytes: number = MAX_REJECTED_HEADER_BYTES): Buffer {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  // Looking for the end of the headers never needs to read past the bound (plus the blank line).
  const section = headerSectionOf(buf.subarray(0, maxBytes + 4));
  if (section.byteLength <= maxBytes) return Buffer.from(section);
  const cut = section.lastIndexOf(0x0a, maxBytes - 1);
  return Buffer.from(section.subarray(0, cut >= 0 ? cut + 1 : maxBytes));
}

/** What of a rejected mail is stored, given what today's rejected mail has stored so far. */
export type RejectedStorage = { readonly stored: 'headers'; readonly bytes: Buffer } | { readonly stored: 'none' };

export function rejectedStorage(raw: Uint8Array, storedToday: number, policy: RejectedMailPolicy): RejectedStorage {
  const bytes = boundedHeaderSection(raw);
  return storedToday + bytes.byteLength <= policy.maxStoredBytesPerDay ? { stored: 'headers', bytes } : { stored: 'none' };
}
