/**
 * The sender of a task submitted over the API without `reply_to`: `api+<token name>@airut.invalid`
 * (`api+admin@…` for the dashboard's own token). It names who submitted the task in the dashboard and
 * is the key the per-sender rate limits and spending caps count by, so each API token has its own.
 * `.invalid` is reserved (RFC 2606): it never resolves, so nothing could be delivered there even by
 * mistake, and no real mail comes from it. queue-reply.ts queues no mail to it at all.
 */
export const API_SENDER_DOMAIN = 'airut.invalid';

export function apiSenderAddress(tokenName: string | null): string {
  // Token names are the tokens part's; anything outside a plain local part becomes '-', so the address stays one address.
  const local = (tokenName ?? 'admin').toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 48) || 'token';
  return `api+${local}@${API_SENDER_DOMAIN}`;
}

/** True for the sender of an API task without a reply address: nothing is ever mailed to it. */
export function isApiSender(address: string): boolean {
  return address.trim().toLowerCase().endsWith(`@${API_SENDER_DOMAIN}`);
}
