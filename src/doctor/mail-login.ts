/**
 * The doctor's side of a repository's mail login: obtain the credentials the daemon would use (the
 * password, or an access token from the OAuth2 provider, asked for now), say how the connection is
 * secured, and turn a provider's refusal into a FAIL row with its fix. The token itself never
 * appears in a row: only the method and how long it lives.
 */
import type { ConnectionSecurity, MailTlsConfig, RepoServerConfig } from '../config/types.ts';
import type { MailAuth, MailCredentials } from '../mail-account/credentials.ts';
import { OAuth2TokenError, OAuth2TokenSource, type IssuedToken } from '../mail-account/oauth2-token-source.ts';
import type { MailFailure } from './mail-errors.ts';
import { fail, ok, warn, type CheckResult } from './types.ts';

export interface DoctorLogin {
  /** Credentials for one login, handed to the IMAP client or the SMTP transport. */
  readonly credentials: MailCredentials;
  readonly auth: MailAuth;
  /** For the row: `password`, or `microsoft_oauth2: token obtained, valid for 59 min`. */
  readonly summary: string;
}

/** The config key of the repository's login method. */
export function loginKey(repo: RepoServerConfig): 'password' | 'microsoft_oauth2' | 'oauth2' {
  const login = repo.email.login;
  if (login.kind === 'password') return 'password';
  return login.provider === 'microsoft' ? 'microsoft_oauth2' : 'oauth2';
}

/** Rejects with the provider's OAuth2TokenError when no token is issued. */
export async function obtainDoctorLogin(repo: RepoServerConfig, now: () => number = Date.now): Promise<DoctorLogin> {
  const { username, login } = repo.email;
  if (login.kind === 'password') {
    const auth: MailAuth = { user: username, pass: login.password };
    return { credentials: fixedCredentials('password', auth, null), auth, summary: 'password' };
  }
  const issued = await new OAuth2TokenSource(login, { now }).issued();
  const auth: MailAuth = { user: username, accessToken: issued.accessToken };
  const minutes = Math.max(0, Math.round((issued.expiresAt - now()) / 60_000));
  return { credentials: fixedCredentials('oauth2', auth, issued), auth, summary: `${loginKey(repo)}: token obtained, valid for ${minutes} min` };
}

/**
 * One login's worth of credentials: the doctor tries once and reports, it does not renew. `token()`
 * hands the issued token with its expiry to a client that asks for it (the SMTP transport's
 * provisioning, as the credentials of the daemon's own do).
 */
function fixedCredentials(method: MailCredentials['method'], auth: MailAuth, issued: IssuedToken | null): MailCredentials {
  const credentials = { method, auth: async () => auth, token: async () => issued, loginRefused: () => undefined };
  return credentials;
}

/** How the connection is secured, as the row says it: `implicit TLS, certificate checked against the system CAs and tls.ca_file`. */
export function tlsSummary(security: ConnectionSecurity, tls: MailTlsConfig): string {
  if (security === 'none') return 'plain text (loopback only)';
  const mode = security === 'tls' ? 'implicit TLS' : 'STARTTLS';
  if (tls.insecureSkipVerify) return `${mode}, certificate NOT checked (tls.insecure_skip_verify)`;
  return `${mode}, certificate checked against the system CAs${tls.caFile === null ? '' : ` and tls.ca_file ${tls.caFile}`}`;
}

/** The warning row's fix when the certificate is not checked. */
export function insecureFix(repo: RepoServerConfig): string {
  return `lab servers only: anyone on the network path can read the login and the mail; set repos.${repo.repoId}.email.tls.ca_file to the server's CA and remove insecure_skip_verify`;
}

/** A provider's refusal to issue a token (its message carries the provider's own error). */
export function describeTokenRefusal(err: OAuth2TokenError, repo: RepoServerConfig): MailFailure {
  const key = `repos.${repo.repoId}.email.${loginKey(repo)}`;
  const byError: Record<string, string> = {
    invalid_client: `check ${key}.client_id and ${key}.client_secret (the secret's value, not its id; secrets expire: create a new one)`,
    unauthorized_client:
      loginKey(repo) === 'microsoft_oauth2'
        ? `check ${key}.tenant_id and ${key}.client_id, that the app is enabled, and that an administrator granted consent in that tenant`
        : `check ${key}.client_id: the provider does not allow this client the refresh-token grant`,
    invalid_grant:
      loginKey(repo) === 'microsoft_oauth2'
        ? `check ${key}.tenant_id and that admin consent was granted`
        : `the refresh token was revoked or expired: grant access again and set ${key}.refresh_token to the new one`,
    invalid_scope: `check ${key}.scope (Microsoft 365: https://outlook.office365.com/.default; Google: https://mail.google.com/)`,
    invalid_request: `check ${key}.tenant_id and ${key}.token_url`,
  };
  const fix =
    (err.providerError === null ? undefined : byError[err.providerError]) ??
    `check ${key}.token_url and that this machine reaches it (HTTPS, no proxy in the way); see docs/email-setup.md`;
  // The message names the provider, the client and the provider's own error; never a secret.
  return { detail: err.message, fix };
}

/** The credentials, or the FAIL row saying why the provider issued no token. */
export async function obtainLoginOrRow(repo: RepoServerConfig, name: string): Promise<DoctorLogin | CheckResult> {
  try {
    return await obtainDoctorLogin(repo);
  } catch (err) {
    if (!(err instanceof OAuth2TokenError)) throw err;
    const f = describeTokenRefusal(err, repo);
    return fail(name, f.detail, f.fix);
  }
}

/** The row of a connection that logged in: ok, or warn when the certificate was not checked. */
export function connectionRow(repo: RepoServerConfig, name: string, security: ConnectionSecurity, detail: string): CheckResult {
  return repo.email.tls.insecureSkipVerify && security !== 'none' ? warn(name, detail, insecureFix(repo)) : ok(name, detail);
}
