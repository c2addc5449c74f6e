/**
 * Decisions about mail connections that depend on the host and port: the default security mode,
 * and whether an unencrypted connection is acceptable.
 */
import { isIP } from 'node:net';
import type { ConnectionSecurity } from './types.ts';

/**
 * 993 (IMAPS) and 465 (SMTPS, "submissions") speak TLS from the first byte; every other port is
 * expected to offer STARTTLS. Plain text is never a default: it must be asked for.
 */
export function defaultSecurityForPort(port: number): ConnectionSecurity {
  return port === 993 || port === 465 ? 'tls' : 'starttls';
}

/**
 * True for hosts whose traffic never leaves the machine: 127.0.0.0/8, ::1 (also IPv4-mapped
 * loopback) and the name `localhost`. Other names are not trusted even if they resolve to
 * loopback today, because the decision must not depend on DNS at run time.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost' || h === 'localhost.') return true;
  const family = isIP(h);
  if (family === 4) return h.split('.')[0] === '127';
  if (family === 6) {
    if (h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped?.[1] !== undefined && isIP(mapped[1]) === 4 && mapped[1].split('.')[0] === '127';
  }
  return false;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/**
 * A host name or IP address, as a mail or HTTP client expects it: no scheme, no port, no path.
 * `mail.example.com:993` and `imaps://mail.example.com` are common slips that would otherwise
 * surface only as a DNS failure at run time.
 */
export function isHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(h) !== 0 || HOST_NAME.test(h);
}
