/**
 * The model a sender asked for with a sub-address: mail to `bot+opus@example.com` for a repo whose
 * address is `bot@example.com` hints "opus". Mapping a hint to a model happens elsewhere.
 */

export interface Recipients {
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly deliveredTo: readonly string[];
  readonly xOriginalTo: readonly string[];
}

/** Hints are model aliases or full model names; anything else is ignored rather than logged. */
const HINT = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The hint in one address if it is a sub-address of `ownAddress`, else null. */
export function subAddressHint(address: string, ownAddress: string): string | null {
  const addr = address.trim().toLowerCase();
  const own = ownAddress.trim().toLowerCase();
  const at = addr.lastIndexOf('@');
  const ownAt = own.lastIndexOf('@');
  if (at <= 0 || ownAt <= 0) return null;
  if (addr.slice(at + 1) !== own.slice(ownAt + 1)) return null;
  const local = addr.slice(0, at);
  const prefix = `${own.slice(0, ownAt)}+`;
  if (!local.startsWith(prefix)) return null;
  const hint = local.slice(prefix.length);
  return HINT.test(hint) ? hint : null;
}

/** The first hint among To, Cc, Delivered-To and X-Original-To (lowercased), or null. */
export function extractModelHint(recipients: Recipients, ownAddress: string): string | null {
  for (const list of [recipients.to, recipients.cc, recipients.deliveredTo, recipients.xOriginalTo]) {
    for (const address of list) {
      const hint = subAddressHint(address, ownAddress);
      if (hint !== null) return hint;
    }
  }
  return null;
}
