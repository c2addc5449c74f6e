/**
 * Message-IDs of the mail we send. The conversation id is inside, so a reply to any of our
 * mails finds its conversation through In-Reply-To/References even when the subject was edited
 * (see email/threading.ts, which parses this format back).
 */
import { randomBytes } from 'node:crypto';

/** The domain part of an address (`Airut <bot@example.com>` or `bot@example.com`), lowercased. */
function domainOf(address: string): string {
  const bare = /<([^<>]*)>/.exec(address)?.[1] ?? address;
  const at = bare.lastIndexOf('@');
  const domain = (at >= 0 ? bare.slice(at + 1) : '').trim().toLowerCase();
  // A configured address always has a domain; the fallback only keeps the id well-formed.
  return /^[a-z0-9.-]+$/.test(domain) && domain.length > 0 ? domain : 'localhost';
}

/**
 * `<airut.{conversationId}.{unixTs}.{nonce}@{domain of from}>`: unixTs in seconds, nonce 8 random
 * hex characters. `now` is milliseconds since the epoch (or a Date).
 */
export function newMessageId(conversationId: string, fromAddress: string, now: number | Date = Date.now()): string {
  const ms = typeof now === 'number' ? now : now.getTime();
  const unixTs = Math.floor(ms / 1000);
  const nonce = randomBytes(4).toString('hex');
  return `<airut.${conversationId}.${unixTs}.${nonce}@${domainOf(fromAddress)}>`;
}
