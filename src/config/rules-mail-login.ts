/**
 * Rules on how a repository logs in to its mailbox (`email.password`, `email.microsoft_oauth2`,
 * `email.oauth2`) and checks certificates (`email.tls`) that the schema cannot express: exactly
 * one login method, token endpoints reached over HTTPS, one TLS choice.
 */
import type { ConfigProblem } from '../errors.ts';
import { isLoopbackHost } from './network.ts';
import { childPath, isRecord } from './object-path.ts';

const LOGIN_KEYS = ['password', 'microsoft_oauth2', 'oauth2'] as const;
/** A tenant GUID or a verified domain (contoso.onmicrosoft.com); it goes into the token URL's path. */
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;

export function checkMailLogin(email: Record<string, unknown>, emailPath: string, problems: ConfigProblem[]): void {
  const set = LOGIN_KEYS.filter((k) => email[k] !== undefined && email[k] !== null);
  if (set.length === 0) {
    problems.push({
      path: emailPath,
      message: 'needs a login: password (with !env), or microsoft_oauth2 for Microsoft 365, or oauth2 for Google and other OAuth2 providers (see docs/email-setup.md)',
    });
  } else if (set.length > 1) {
    problems.push({ path: emailPath, message: `sets ${set.join(' and ')}; choose one login method for the mailbox` });
  }
  const ms = email.microsoft_oauth2;
  if (isRecord(ms)) {
    const msPath = childPath(emailPath, 'microsoft_oauth2');
    if (typeof ms.tenant_id === 'string' && ms.tenant_id !== '' && !TENANT_ID.test(ms.tenant_id.trim())) {
      problems.push({ path: childPath(msPath, 'tenant_id'), message: 'must be the Directory (tenant) ID shown on the app registration (a GUID) or the tenant domain' });
    }
    checkTokenUrl(ms.token_url, childPath(msPath, 'token_url'), problems);
  }
  const generic = email.oauth2;
  if (isRecord(generic)) checkTokenUrl(generic.token_url, childPath(childPath(emailPath, 'oauth2'), 'token_url'), problems);
  const tls = email.tls;
  if (isRecord(tls) && tls.insecure_skip_verify === true && typeof tls.ca_file === 'string') {
    problems.push({
      path: childPath(emailPath, 'tls'),
      message: 'sets both ca_file and insecure_skip_verify; with ca_file the certificate can be checked, so remove insecure_skip_verify',
    });
  }
}

/** The client secret travels in the request body: HTTPS only, except to a token service on this machine. */
function checkTokenUrl(value: unknown, path: string, problems: ConfigProblem[]): void {
  if (typeof value !== 'string' || value === '') return;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    problems.push({ path, message: `${JSON.stringify(value)} is not a URL; write the token endpoint in full, e.g. https://oauth2.googleapis.com/token` });
    return;
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) return;
  problems.push({
    path,
    message: `must be an https:// URL (plain http:// only to a loopback host): the client secret is sent to it, and ${url.protocol}//${url.host} is not`,
  });
}
