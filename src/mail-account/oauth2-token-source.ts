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
import { forgetSecretValues, registerSecretValues } from '../log/secret-values.ts';
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
    /** The token endpoint's HTTP status, or null when no answer came (network, timeout). */
    readonly httpStatus: number | null = null,
    options: { cause?: unknown } = {},
  ) {
    super('MAIL_OAUTH2_FAILED', message, options);
  }

  /**
   * The provider refused the request itself (4xx: revoked grant, wrong tenant, bad secret), or the
   * URL answers with something that is not a token endpoint: asking again will not help until
   * someone changes the configuration or the grant. A 5xx, a timeout, a rate limit or a network
   * error may pass by itself.
   */
  get needsFix(): boolean {
    return this.httpStatus !== null && this.httpStatus < 500 && this.httpStatus !== 408 && this.httpStatus !== 429;
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
  /** Tokens registered for log redaction, newest last; older ones are forgotten once long replaced. */
  readonly #redacted: string[] = [];

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
    let result: oauth.TokenEndpointResponse;
    try {
      result = await this.grantRequest();
    } catch (err) {
      throw await describeTokenFailure(err, login, this.#timeoutMs);
    }
    const lifetimeMs = typeof result.expires_in === 'number' && result.expires_in > 0 ? result.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    const issued = { accessToken: result.access_token, expiresAt: this.#now() + lifetimeMs };
    this.redact(issued.accessToken);
    this.#cached = issued;
    return issued;
  }

  private async grantRequest(): Promise<oauth.TokenEndpointResponse> {
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
    if (login.grant === 'client_credentials') {
      const response = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: login.scope ?? '' }, options);
      return oauth.processClientCredentialsResponse(as, client, response);
    }
    const extra = login.scope === null ? {} : { additionalParameters: { scope: login.scope } };
    const response = await oauth.refreshTokenGrantRequest(as, client, auth, login.refreshToken ?? '', { ...options, ...extra });
    return oauth.processRefreshTokenResponse(as, client, response);
  }

  /**
   * Access tokens are secrets of this thread's log lines from the moment they exist. The previous
   * one stays registered (it is still valid for a few minutes); older ones have expired.
   */
  private redact(token: string): void {
    registerSecretValues([token]);
    this.#redacted.push(token);
    if (this.#redacted.length > 2) forgetSecretValues(this.#redacted.splice(0, this.#redacted.length - 2));
  }
}

/** Who was asked, what for, and what the provider said; never a secret. */
async function describeTokenFailure(err: unknown, login: OAuth2Login, timeoutMs: number): Promise<OAuth2TokenError> {
  const host = safeHost(login.tokenUrl);
  const what =
    login.provider === 'microsoft'
      ? `Microsoft 365 (${host}) gave no access token for client ${login.clientId} in tenant ${login.tenantId ?? '?'}`
      : `the OAuth2 provider at ${host} did not refresh the access token of client ${login.clientId}`;
  if (err instanceof oauth.ResponseBodyError) {
    const description = err.error_description ? `: ${oneLine(err.error_description)}` : '';
    return new OAuth2TokenError(`${what}: ${err.error} (HTTP ${err.status})${description}${hint(login, err.error)}`, err.error, err.status, { cause: err });
  }
  const e = err as Error & { cause?: unknown };
  // oauth4webapi leaves answers it cannot use (a 5xx, a body that is not JSON) as the Response in `cause`.
  if (e.cause instanceof Response) {
    const answer = await describeAnswer(e.cause);
    return new OAuth2TokenError(`${what}: ${answer.text}${hint(login, answer.error ?? '')}`, answer.error, e.cause.status, { cause: err });
  }
  const cause = e.cause as { code?: string; message?: string } | undefined;
  const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`}` : (cause?.code ?? cause?.message ?? e.message);
  return new OAuth2TokenError(`${what}: ${oneLine(reason)}`, null, null, { cause: err });
}

/** "HTTP 500: server_error: …" when the body is an OAuth error, else its status and content type (the body may be a whole HTML page). */
async function describeAnswer(response: Response): Promise<{ text: string; error: string | null }> {
  const type = (response.headers.get('content-type') ?? 'no content type').split(';')[0]!.trim();
  let body: unknown = null;
  try {
    if (!response.bodyUsed) body = JSON.parse(await response.text());
  } catch {
    body = null;
  }
  const error = typeof (body as { error?: unknown } | null)?.error === 'string' ? (body as { error: string }).error : null;
  if (error === null) return { text: `HTTP ${response.status} with a ${type} body, not an OAuth2 token response`, error: null };
  const description = (body as { error_description?: unknown }).error_description;
  return { text: `${error} (HTTP ${response.status})${typeof description === 'string' ? `: ${oneLine(description)}` : ''}`, error };
}

function hint(login: OAuth2Login, error: string): string {
  const key = login.provider === 'microsoft' ? 'microsoft_oauth2' : 'oauth2';
  if (error === 'invalid_client') return `; check email.${key}.client_id and client_secret (a client secret expires; create a new one)`;
  if (error === 'invalid_grant') return login.provider === 'microsoft' ? '; check the tenant and that admin consent was granted' : '; the refresh token was revoked or expired: grant access again and set email.oauth2.refresh_token';
  if (error === 'invalid_scope') return `; check email.${key}.scope`;
  if (login.provider === 'microsoft' && (error === 'invalid_request' || error === 'unauthorized_client')) {
    return '; check email.microsoft_oauth2.tenant_id and client_id, and that the app registration is enabled and consented in that tenant';
  }
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
