/**
 * The single question the listener asks about a message: answer it, or drop it and say why.
 *
 * Order matters. A From header we can't pin to one address is `malformed` first (DMARC vouches for
 * a From domain, so without one there is nothing to authenticate). Loops come next, so that our
 * own replies and bounces — which may well pass DMARC — are named as what they are. Then DMARC
 * (`auth_failed`), then the allowlist (`unauthorized`).
 */
import { verifyDmarc } from './authenticate.ts';
import { isAuthorizedSender } from './authorize.ts';
import { detectLoop } from './loop-guard.ts';
import { extractModelHint } from './model-hint.ts';
import type { MessageOutline } from './outline.ts';

export interface ScreeningPolicy {
  /** The repo's own address, lowercased (`RepoEmailConfig.fromAddress`). */
  readonly fromAddress: string;
  /** '' skips the authserv-id comparison (Exchange Online). */
  readonly trustedAuthservId: string;
  /** Accept mail with no Authentication-Results header that Exchange marked AuthAs: Internal. */
  readonly microsoftInternalFallback: boolean;
  /** Exact addresses or `*@domain`, case-insensitive. */
  readonly authorizedSenders: readonly string[];
}

export type RejectReason = 'auth_failed' | 'unauthorized' | 'loop' | 'malformed';

export type ScreenVerdict =
  | { readonly action: 'accept'; readonly sender: string; readonly modelHint: string | null }
  | {
      readonly action: 'reject';
      readonly reason: RejectReason;
      /** One sentence for the dashboard and the log; holds no secrets. */
      readonly detail: string;
      readonly sender: string | null;
    };

export type ScreenInput = Pick<
  MessageOutline,
  'from' | 'headerLines' | 'to' | 'cc' | 'deliveredTo' | 'xOriginalTo'
>;

export function screenMessage(parsed: ScreenInput, policy: ScreeningPolicy): ScreenVerdict {
  const from = parsed.from;
  if (!from.ok) {
    return { action: 'reject', reason: 'malformed', detail: `Rejected: ${from.reason}.`, sender: null };
  }
  const sender = from.address;

  const loop = detectLoop({ sender, headerLines: parsed.headerLines }, policy.fromAddress);
  if (loop !== null) return { action: 'reject', reason: 'loop', detail: `Not answered: ${loop}.`, sender };

  const fromDomain = sender.slice(sender.lastIndexOf('@') + 1);
  const dmarc = verifyDmarc(parsed.headerLines, policy.trustedAuthservId, {
    fromDomain,
    microsoftInternalFallback: policy.microsoftInternalFallback,
  });
  if (!dmarc.ok) {
    return { action: 'reject', reason: 'auth_failed', detail: `Authentication failed: ${dmarc.reason}.`, sender };
  }

  if (!isAuthorizedSender(sender, policy.authorizedSenders)) {
    return {
      action: 'reject',
      reason: 'unauthorized',
      detail: `Rejected: ${sender} is not in this repository's authorized senders.`,
      sender,
    };
  }

  return { action: 'accept', sender, modelHint: extractModelHint(parsed, policy.fromAddress) };
}
