/**
 * The TLS options of a repository's IMAP and SMTP connections (`email.tls`), shared by the
 * listener, the outbox sender and the doctor so that `--check --online` checks certificates
 * exactly the way the daemon will.
 */
import tls, { type ConnectionOptions } from 'node:tls';
import type { MailTlsConfig } from '../config/types.ts';

/**
 * The CAs a connection trusts when `ca_file` is set: the system's (with NODE_EXTRA_CA_CERTS, where
 * this Node can list them) and the file's. Passing `ca` replaces Node's default store, so the
 * default store is named explicitly.
 */
function trustedCas(caPem: string): string[] {
  const list = (tls as { getCACertificates?: (kind: 'default') => string[] }).getCACertificates;
  const defaults = typeof list === 'function' ? list('default') : [...tls.rootCertificates];
  return [...defaults, caPem];
}

export function mailTlsOptions(config: MailTlsConfig): ConnectionOptions {
  // Lab servers only; every connection made with this says so in the log (see the callers).
  if (config.insecureSkipVerify) return { rejectUnauthorized: false };
  return config.caPem === null ? { rejectUnauthorized: true } : { rejectUnauthorized: true, ca: trustedCas(config.caPem) };
}

/** The warning logged at every connection made with `insecure_skip_verify`. */
export const INSECURE_TLS_WARNING =
  'certificate checks are OFF (email.tls.insecure_skip_verify): anyone on the network path can read the password and the mail; use email.tls.ca_file instead';
