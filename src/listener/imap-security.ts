/**
 * How a configured connection security maps onto imapflow's options. Shared by the listener and
 * the doctor so that `--check --online` logs in exactly the way the daemon will.
 */
import type { ImapFlowOptions } from 'imapflow';
import type { ConnectionSecurity, MailTlsConfig } from '../config/types.ts';
import { mailTlsOptions } from '../mail-account/tls.ts';

export function imapSecurityOptions(security: ConnectionSecurity, tls: MailTlsConfig): Pick<ImapFlowOptions, 'secure' | 'doSTARTTLS' | 'tls'> {
  return {
    secure: security === 'tls',
    // 'none' is only allowed for loopback hosts by config validation. `true` makes a server that
    // does not offer STARTTLS an error, never a fall-back to plain text.
    doSTARTTLS: security === 'starttls' ? true : security === 'none' ? false : undefined,
    tls: mailTlsOptions(tls),
  };
}
