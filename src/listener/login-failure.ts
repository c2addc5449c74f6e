/**
 * What a failed connection attempt means for the listener's next one. Pure, so the rules are
 * tested as a table.
 *
 * - `renew-token`: the server refused an OAuth2 access token we had cached. It may only be stale
 *   (revoked early, expired on the server's clock): drop it and log in again at once with a new
 *   one. Only once in a row; a second refusal is `needs-fix`.
 * - `needs-fix`: the login cannot succeed until someone changes something (the provider refused
 *   the grant: revoked consent, wrong tenant, bad secret; or the server refused the password or a
 *   freshly issued token; or the server's certificate cannot be verified, or STARTTLS is not
 *   offered: TLS failures that only a configuration or server change ends). The listener shows an
 *   error state and retries slowly.
 * - `transient`: the network, the server or the provider may recover by itself (connection reset,
 *   timeout, a 5xx from the token endpoint, a login answered `[UNAVAILABLE]`): the ordinary
 *   reconnect backoff.
 */
import type { MailLogin } from '../config/types.ts';
import { OAuth2TokenError } from '../mail-account/oauth2-token-source.ts';
import { describeTlsFailure, type MailEndpoint } from '../mail-account/tls-errors.ts';

export type LoginFailureKind = 'renew-token' | 'needs-fix' | 'transient';

export function classifyLoginFailure(
  err: unknown,
  method: MailLogin['kind'],
  tokenAlreadyRenewed: boolean,
  endpoint?: MailEndpoint,
): LoginFailureKind {
  if (err instanceof OAuth2TokenError) return err.needsFix ? 'needs-fix' : 'transient';
  if (endpoint !== undefined && describeTlsFailure(err, endpoint) !== null) return 'needs-fix';
  if (!isLoginRefusal(err)) return 'transient';
  // RFC 5530: the server could not check the credentials just now (Dovecot says so when its
  // token introspection or password backend is down); nothing is wrong with them.
  if ((err as { serverResponseCode?: unknown }).serverResponseCode === 'UNAVAILABLE') return 'transient';
  return method === 'oauth2' && !tokenAlreadyRenewed ? 'renew-token' : 'needs-fix';
}

/** The IMAP server answered the login with NO/BAD (imapflow marks it `authenticationFailed`). */
export function isLoginRefusal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { authenticationFailed?: unknown }).authenticationFailed === true;
}
