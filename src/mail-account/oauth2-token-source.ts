/**
 * Access tokens for one mailbox's OAuth2 login: the client-credentials grant (Microsoft 365) or the
 * refresh-token grant (Google and most providers), through oauth4webapi, which does the protocol
 * checks (token type, JSON shape, error bodies) we would otherwise write ourselves.
 *
 * A token is cached until shortly before it expires, so each login does not cost a round trip to
 * the provider; a login the server refuses drops it (invalidate()), so the next login gets a fresh
 * one. Concurrent callers share one request. Tokens and secrets never reach a log or an error
 * message: the errors carry only the provider's error code and description.
 */
import * as oauth from 'oauth4webapi';
import { AirutError } from '../errors.ts';
import type { OAuth2Login } from '../config/types.ts';
import { isLoopbackHost } from '../config/network.ts';

/** A token is renewed this long before it expires, so a login never presents one that dies mid-handshake. */
export const REFRESH_MARGIN_MS = 5 * 60_000;
/** When the provider says nothing about expiry, the token is used this long (providers issue one-hour tokens). */
const DEFAULT_LIFETIME_MS = 55 * 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

export class OAuth2TokenError extends AirutError {
  constructor(
    message: string,
    /** The provider's `error` code (`invalid_client`, `invalid_grant`, …), or null when it gave none. */
    readonly providerError: string | null,
    options: { cause?: unknown } = {},
  ) {
    super('MAIL_OAUTH2_FAILED', message, options);
  }
}

export interface TokenSourceOptions {
  readonly now?: () => number;
  readonly timeoutMs?: number;
}

export interface IssuedToken {
  readonly accessToken: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export class OAuth2TokenSource {
  readonly #login: OAuth2Login;
  readonly #now: () => number;
  readonly #timeoutMs: number;
  #cached: IssuedToken | null = null;
  #pending: Promise<IssuedToken> | null = null;

  constructor(login: OAuth2Login, options: TokenSourceOptions = {}) {
    this.#login = login;
    this.#now = options.now ?? Date.now;
    this.#timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** A live access token: the cached one, or a new one from the provider. */
  async token(): Promise<string> {
    return (await this.issued()).accessToken;
  }

  /** As token(), with its expiry (for the doctor's report). */
  async issued(): Promise<IssuedToken> {
    const cached = this.#cached;
    if (cached && cached.expiresAt - REFRESH_MARGIN_MS > this.#now()) return cached;
    this.#pending ??= this.request().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  /** Forget the cached token (the server refused it); the next token() asks the provider. */
  invalidate(): void {
    this.#cached = null;
  }

  private async request(): Promise<IssuedToken> {
    const login = this.#login;
    const url = new URL(login.tokenUrl);
    const as: oauth.AuthorizationServer = { issuer: url.origin, token_endpoint: url.href };
    const client: oauth.Client = { client_id: login.clientId };
    // Both providers accept the secret in the body; Microsoft documents only that form.
    const auth = oauth.ClientSecretPost(login.clientSecret);
    const options = {
      signal: AbortSignal.timeout(this.#timeoutMs),
      // Plain HTTP only towards loopback (a local token service or a test); the rules refuse it elsewhere.
      [oauth.allowInsecureRequests]: url.protocol === 'http:' && isLoopbackHost(url.hostname),
    };
    let result: oauth.TokenEndpointResponse;
    try {
      if (login.grant === 'client_credentials') {
        const response = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: login.scope ?? '' }, options);
        result = await oauth.processClientCredentialsResponse(as, client, response);
      } else {
        const extra = login.scope === null ? {} : { additionalParameters: { scope: login.scope } };
        const response = await oauth.refreshTokenGrantRequest(as, client, auth, login.refreshToken ?? '', { ...options, ...extra });
        result = await oauth.processRefreshTokenResponse(as, client, response);
      }
    } catch (err) {
      throw describeTokenFailure(err, login);
    }
    const lifetimeMs = typeof result.expires_in === 'number' && result.expires_in > 0 ? result.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    const issued = { accessToken: result.access_token, expiresAt: this.#now() + lifetimeMs };
    this.#cached = issued;
    return issued;
  }
}

/** Who was asked, what for, and what the provider said; never a secret. */
function describeTokenFailure(err: unknown, login: OAuth2Login): OAuth2TokenError {
  const host = safeHost(login.tokenUrl);
  const what =
    login.provider === 'microsoft'
      ? `Microsoft 365 refused an access token for client ${login.clientId} in tenant ${login.tenantId ?? '?'} (${host})`
      : `the OAuth2 provider at ${host} refused to refresh the access token of client ${login.clientId}`;
  if (err instanceof oauth.ResponseBodyError) {
    const description = err.error_description ? `: ${oneLine(err.error_description)}` : '';
    return new OAuth2TokenError(`${what}: ${err.error} (HTTP ${err.status})${description}${hint(login, err.error)}`, err.error, { cause: err });
  }
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const reason = e.name === 'TimeoutError' ? `no answer within ${Math.round(REQUEST_TIMEOUT_MS / 1000)} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
  return new OAuth2TokenError(`${what}: ${oneLine(reason)}`, null, { cause: err });
}

function hint(login: OAuth2Login, error: string): string {
  const key = login.provider === 'microsoft' ? 'microsoft_oauth2' : 'oauth2';
  if (error === 'invalid_client') return `; check email.${key}.client_id and client_secret (a client secret expires; create a new one)`;
  if (error === 'invalid_grant') return login.provider === 'microsoft' ? '; check the tenant and that admin consent was granted' : '; the refresh token was revoked or expired: grant access again and set email.oauth2.refresh_token';
  if (error === 'invalid_scope') return `; check email.${key}.scope`;
  return '';
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

/** Provider texts run over several lines (Microsoft appends trace ids); a log line wants one. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
