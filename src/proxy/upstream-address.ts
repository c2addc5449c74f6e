/**
 * Addresses the proxy never connects to on a name's behalf: the host itself (loopback and the
 * unspecified address, which reach the daemon's dashboard, IMAP proxies and the like), link-local
 * (cloud metadata services live at 169.254.169.254) and multicast. An operator who wants a name to
 * reach a local service says so with `network.upstream_overrides`, which skips this check.
 * Private ranges (10/8, 192.168/16, …) stay reachable: company-internal services are a normal
 * thing to allowlist.
 *
 * Why a `net.BlockList` and not string tests: one address has many spellings (`::1`,
 * `0:0:0:0:0:0:0:1`, `::ffff:7f00:1` for 127.0.0.1, `::127.0.0.1`); the block list compares the
 * parsed address, and matches IPv4-mapped IPv6 addresses against the IPv4 ranges.
 */
import net from 'node:net';

const FORBIDDEN = new net.BlockList();
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4'); // "this host"; 0.0.0.0 connects to loopback on Linux
FORBIDDEN.addSubnet('127.0.0.0', 8, 'ipv4');
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addSubnet('224.0.0.0', 3, 'ipv4'); // multicast, reserved, broadcast
FORBIDDEN.addSubnet('::', 96, 'ipv6'); // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addSubnet('fec0::', 10, 'ipv6'); // deprecated site-local, link-scoped in practice
FORBIDDEN.addSubnet('ff00::', 8, 'ipv6');

/** True for loopback, unspecified, link-local and multicast addresses, and for anything that is not an address. */
export function isForbiddenUpstreamAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return true;
  return FORBIDDEN.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
