/**
 * What a repository's IMAP and SMTP clients log in with: the password, or an OAuth2 access token
 * obtained for the account (oauth2-token-source.ts). The clients ask for credentials before every
 * login and say when the server refused them, so a stale token is replaced once.
 */
import type { MailLogin } from '../config/types.ts';
import { OAuth2TokenSource, type IssuedToken, type TokenSourceOptions } from './oauth2-token-source.ts';

export type MailAuth = { readonly user: string; readonly pass: string } | { readonly user: string; readonly accessToken: string };

export interface MailCredentials {
  /** `password` or `oauth2`, for log lines and the doctor. */
  readonly method: MailLogin['kind'];
  /** Credentials for the next login; rejects with an OAuth2TokenError when the provider refuses. */
  auth(): Promise<MailAuth>;
  /** OAuth2: the access token with its expiry (nodemailer's token provisioning); null for a password login. */
  token(): Promise<IssuedToken | null>;
  /** The server refused the last login: a cached token is dropped, so the next auth() asks for a new one. */
  loginRefused(): void;
}

/**
 * One per repository and thread, kept as long as the configuration: an OAuth2 token is then reused
 * by every login until shortly before it expires.
 */
export function createMailCredentials(username: string, login: MailLogin, options: TokenSourceOptions = {}): MailCredentials {
  if (login.kind === 'password') {
    const auth: MailAuth = { user: username, pass: login.password };
    return { method: 'password', auth: async () => auth, token: async () => null, loginRefused: () => undefined };
  }
  const source = new OAuth2TokenSource(login, options);
  return {
    method: 'oauth2',
    auth: async () => ({ user: username, accessToken: await source.token() }),
    token: () => source.issued(),
    loginRefused: () => source.invalidate(),
  };
}

/** The secret strings of a login, for the log redaction of the thread that holds it. */
export function loginSecretValues(login: MailLogin): string[] {
  return login.kind === 'password' ? [login.password] : [login.clientSecret, ...(login.refreshToken === null ? [] : [login.refreshToken])];
}
