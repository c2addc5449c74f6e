/**
 * The `email` keys that say how a repository logs in and how certificates are checked: `password`,
 * `microsoft_oauth2` or `oauth2`, and `tls`. Built here so build.ts stays about shape; the rules
 * (rules-mail-login.ts) have already made sure exactly one login method is set.
 */
import fs from 'node:fs';
import { ConfigError } from '../errors.ts';
import { DEFAULTS } from './defaults.ts';
import { expandPath } from './fs-path.ts';
import type { RawRepo } from './raw.ts';
import type { MailLogin, MailTlsConfig } from './types.ts';

type RawEmail = RawRepo['email'];

export function buildMailLogin(email: RawEmail): MailLogin {
  const ms = email.microsoft_oauth2;
  if (ms) {
    const tenant = ms.tenant_id.trim();
    return {
      kind: 'oauth2',
      provider: 'microsoft',
      grant: 'client_credentials',
      tokenUrl: ms.token_url?.trim() || DEFAULTS.microsoftTokenUrl.replace('{tenant}', encodeURIComponent(tenant)),
      clientId: ms.client_id.trim(),
      clientSecret: ms.client_secret,
      refreshToken: null,
      scope: ms.scope?.trim() || DEFAULTS.microsoftScope,
      tenantId: tenant,
    };
  }
  const o = email.oauth2;
  if (o) {
    return {
      kind: 'oauth2',
      provider: 'generic',
      grant: 'refresh_token',
      tokenUrl: o.token_url.trim(),
      clientId: o.client_id.trim(),
      clientSecret: o.client_secret,
      refreshToken: o.refresh_token,
      scope: o.scope?.trim() || null,
      tenantId: null,
    };
  }
  if (email.password === undefined) throw new Error('internal: the login method was not validated');
  return { kind: 'password', password: email.password };
}

/** Reads `ca_file` now, so a missing or unreadable file is a configuration error and not a failed login hours later. */
export function buildMailTls(email: RawEmail, emailPath: string, configDir: string, sourcePath: string): MailTlsConfig {
  const tls = email.tls ?? {};
  if (tls.ca_file === undefined) return { caFile: null, caPem: null, insecureSkipVerify: tls.insecure_skip_verify ?? DEFAULTS.insecureSkipVerify };
  const caFile = expandPath(tls.ca_file, configDir);
  const problem = (message: string): ConfigError => new ConfigError([{ path: `${emailPath}.tls.ca_file`, message }], sourcePath);
  let caPem: string;
  try {
    caPem = fs.readFileSync(caFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw problem(`cannot read ${caFile} (${code}): it must be a PEM file with the CA certificate that signed the mail servers' certificates`);
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(caPem)) {
    throw problem(`${caFile} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block); export the CA certificate in PEM format`);
  }
  return { caFile, caPem, insecureSkipVerify: tls.insecure_skip_verify ?? DEFAULTS.insecureSkipVerify };
}
