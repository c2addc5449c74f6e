/** Conversation IDs: 8 lowercase hex characters, random (as in Airut's `[ID:xxxxxxxx]` subject tag). */
import { randomBytes } from 'node:crypto';

const CONVERSATION_ID = /^[0-9a-f]{8}$/;

export function newConversationId(): string {
  return randomBytes(4).toString('hex');
}

/** True for a well-formed ID. Also what keeps an ID from naming a path outside the store. */
export function isConversationId(s: unknown): s is string {
  return typeof s === 'string' && CONVERSATION_ID.test(s);
}
