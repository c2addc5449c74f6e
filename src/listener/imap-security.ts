/**
 * How a configured connection security maps onto imapflow's options. Shared by the listener and
 * the doctor so that `--check --online` logs in exactly the way the daemon will.
 */
import type { ImapFlowOptions } from 'imapflow';
import type { ConnectionSecurity } from '../config/types.ts';

export function imapSecurityOptions(security: ConnectionSecurity): Pick<ImapFlowOptions, 'secure' | 'doSTARTTLS' | 'tls'> {
  return {
    secure: security === 'tls',
    // 'none' is only allowed for loopback hosts by config validation.
    doSTARTTLS: security === 'starttls' ? true : security === 'none' ? false : undefined,
    // Certificates are always verified; NODE_EXTRA_CA_CERTS adds a private CA.
    tls: { rejectUnauthorized: true },
  };
}
